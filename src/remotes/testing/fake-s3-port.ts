// An in-memory S3 endpoint behind the S3Port subset, for tests: enough of S3's semantics for the
// conformance suite with conditional writes on (which s3rver lacks): If-None-Match on PUT and
// multipart complete, ranged GET with 416, V2 listing with delimiter and continuation tokens,
// DeleteObjects, CopyObject, multipart with abort. Every call yields to the event loop first, so
// concurrent requests interleave as they would over the network.
import { Readable } from 'node:stream'
import type { S3Port } from '../s3/s3-upload.ts'

type Input = Record<string, unknown>

const s3Error = (name: string, status: number): Error =>
  Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } })

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body)
  const chunks: Buffer[] = []
  for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

interface StoredObject {
  readonly data: Buffer
  readonly modified: Date
  readonly etag: string
}

/** If-Match: 412 when the object's ETag differs, 404 when there is no object. */
function checkIfMatch(object: StoredObject | undefined, input: Input): void {
  if (typeof input.IfMatch !== 'string') return
  if (object === undefined) throw s3Error('NoSuchKey', 404)
  if (input.IfMatch !== '*' && input.IfMatch !== object.etag) throw s3Error('PreconditionFailed', 412)
}

/** The fake endpoint's state, exposed for assertions. */
export interface FakeS3 {
  readonly port: S3Port
  readonly objects: Map<string, StoredObject>
  readonly uploads: Map<string, Map<number, Buffer>>
  /** Names of the commands received, in order. */
  readonly calls: string[]
}

/** Creates a fake endpoint holding one bucket named `bucket`. */
export function createFakeS3(bucket: string): FakeS3 {
  const objects = new Map<string, StoredObject>()
  const uploads = new Map<string, Map<number, Buffer>>()
  const calls: string[] = []
  let nextUpload = 0
  const key = (input: Input): string => {
    if (input.Bucket !== bucket) throw s3Error('NoSuchBucket', 404)
    return String(input.Key)
  }
  let nextEtag = 0
  const put = (k: string, data: Buffer, input: Input): object => {
    if (input.IfNoneMatch === '*' && objects.has(k)) throw s3Error('PreconditionFailed', 412)
    checkIfMatch(objects.get(k), input)
    const etag = `"e${String(++nextEtag)}"`
    objects.set(k, { data, modified: new Date(0), etag })
    return { ETag: etag }
  }
  const handlers: Record<string, (input: Input) => Promise<object> | object> = {
    PutObjectCommand: async (input) => put(key(input), await bodyBytes(input.Body), input),
    HeadObjectCommand: (input) => {
      const o = objects.get(key(input))
      if (o === undefined) throw s3Error('NotFound', 404)
      return { ContentLength: o.data.byteLength, LastModified: o.modified }
    },
    GetObjectCommand: (input) => getObject(objects, key(input), input.Range),
    DeleteObjectCommand: (input) => {
      checkIfMatch(objects.get(key(input)), input)
      objects.delete(key(input))
      return {}
    },
    DeleteObjectsCommand: (input) => {
      const list = (input.Delete as { Objects: { Key: string }[] }).Objects
      if (list.length > 1000) throw s3Error('MalformedXML', 400)
      for (const o of list) objects.delete(key({ Bucket: input.Bucket, Key: o.Key }))
      return {}
    },
    CopyObjectCommand: (input) => {
      const source = decodeURIComponent(String(input.CopySource)).slice(bucket.length + 1)
      const o = objects.get(source)
      if (o === undefined) throw s3Error('NoSuchKey', 404)
      return put(key(input), o.data, {})
    },
    ListObjectsV2Command: (input) => listObjects(objects, input),
    CreateMultipartUploadCommand: (input) => {
      key(input)
      const id = `upload-${String(++nextUpload)}`
      uploads.set(id, new Map())
      return { UploadId: id }
    },
    UploadPartCommand: async (input) => {
      const parts = uploads.get(String(input.UploadId))
      if (parts === undefined) throw s3Error('NoSuchUpload', 404)
      parts.set(Number(input.PartNumber), await bodyBytes(input.Body))
      return { ETag: `"p${String(input.PartNumber)}"` }
    },
    CompleteMultipartUploadCommand: (input) => {
      const parts = uploads.get(String(input.UploadId))
      if (parts === undefined) throw s3Error('NoSuchUpload', 404)
      const order = (input.MultipartUpload as { Parts: { PartNumber: number }[] }).Parts.map(
        (p) => p.PartNumber,
      )
      const result = put(key(input), Buffer.concat(order.map((n) => parts.get(n) ?? Buffer.alloc(0))), input)
      uploads.delete(String(input.UploadId))
      return result
    },
    UploadPartCopyCommand: (input) => {
      const parts = uploads.get(String(input.UploadId))
      const source = objects.get(decodeURIComponent(String(input.CopySource)).slice(bucket.length + 1))
      const range = /^bytes=(\d+)-(\d+)$/.exec(String(input.CopySourceRange))
      if (parts === undefined) throw s3Error('NoSuchUpload', 404)
      if (source === undefined) throw s3Error('NoSuchKey', 404)
      if (range === null) throw s3Error('InvalidArgument', 400)
      parts.set(Number(input.PartNumber), source.data.subarray(Number(range[1]), Number(range[2]) + 1))
      return { CopyPartResult: { ETag: `"c${String(input.PartNumber)}"` } }
    },
    AbortMultipartUploadCommand: (input) => (uploads.delete(String(input.UploadId)), {}),
  }
  const port = {
    async send(command: { constructor: { name: string }; input: Input }) {
      const name = command.constructor.name
      calls.push(name.replace(/Command$/, ''))
      await new Promise((resolve) => setImmediate(resolve))
      const handler = handlers[name]
      if (handler === undefined) throw s3Error('NotImplemented', 501)
      return handler(command.input)
    },
  }
  return { port, objects, uploads, calls }
}

function getObject(objects: FakeS3['objects'], k: string, range: unknown): object {
  const o = objects.get(k)
  if (o === undefined) throw s3Error('NoSuchKey', 404)
  if (typeof range !== 'string')
    return { Body: Readable.from([o.data]), ContentLength: o.data.byteLength, ETag: o.etag }
  const m = /^bytes=(\d+)-(\d*)$/.exec(range)
  const start = Number(m?.[1])
  const last = Math.min(
    m?.[2] === '' || m?.[2] === undefined ? Infinity : Number(m[2]),
    o.data.byteLength - 1,
  )
  if (m === null || start > last) throw s3Error('InvalidRange', 416)
  const slice = o.data.subarray(start, last + 1)
  return {
    Body: Readable.from([slice]),
    ContentRange: `bytes ${String(start)}-${String(last)}/${String(o.data.byteLength)}`,
  }
}

function listObjects(objects: FakeS3['objects'], input: Input): object {
  const prefix = typeof input.Prefix === 'string' ? input.Prefix : ''
  const delimiter = input.Delimiter as string | undefined
  const after = typeof input.ContinuationToken === 'string' ? input.ContinuationToken : ''
  const entries: { key: string; prefix: boolean }[] = []
  for (const k of [...objects.keys()].sort()) {
    if (!k.startsWith(prefix)) continue
    const cut = delimiter === undefined ? -1 : k.indexOf(delimiter, prefix.length)
    const entry = cut === -1 ? { key: k, prefix: false } : { key: k.slice(0, cut + 1), prefix: true }
    if (entries.at(-1)?.key !== entry.key) entries.push(entry)
  }
  const rest = entries.filter((e) => e.key > after)
  const page = rest.slice(0, Number(input.MaxKeys ?? 1000))
  const truncated = rest.length > page.length
  return {
    Contents: page
      .filter((e) => !e.prefix)
      .map((e) => ({ Key: e.key, Size: objects.get(e.key)?.data.byteLength ?? 0 })),
    CommonPrefixes: page.filter((e) => e.prefix).map((e) => ({ Prefix: e.key })),
    IsTruncated: truncated,
    ...(truncated ? { NextContinuationToken: page.at(-1)?.key } : {}),
  }
}
