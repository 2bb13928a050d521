// Publishing an object on S3: one PutObject when the source fits in the first part, otherwise a
// multipart upload that becomes visible only at CompleteMultipartUpload (the commit point), with
// at most `queueSize` parts in memory and the upload aborted on failure.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import type { CompletedPart, S3Client } from '@aws-sdk/client-s3'
import type { Clock } from '../../shared/clock.ts'
import { retry } from '../../shared/async.ts'
import type { JsonObject } from '../../shared/json.ts'
import { isRetryableRemoteError, RemoteError } from '../remote-error.ts'
import { toS3RemoteError } from './s3-errors.ts'

/** The subset of the SDK client the S3 remote uses (kysely's "subset" idea): a fake can stand in. */
export type S3Port = Pick<S3Client, 'send'>

const MIB = 1 << 20
/** S3's limit on the parts of one multipart upload. */
export const S3_MAX_PARTS = 10_000
/** S3's smallest part (every part but the last). */
export const S3_MIN_PART_BYTES = 5 * MIB
/** S3's largest part, and the largest single PUT or CopyObject. */
export const S3_MAX_PART_BYTES = 5 * 1024 * MIB

/** What decides part sizes. */
export interface PartSizing {
  readonly minPartSizeBytes: number
  /** A fixed part size (for servers that want equal parts); else derived from the length. */
  readonly partSizeBytes?: number
  /** Known total length, if any. */
  readonly sizeBytes?: number
}

/**
 * Size of part `partNumber` (1-based): fixed if asked; for a known length the smallest whole MiB
 * that fits in 10 000 parts (at least the minimum); for an unknown length the minimum, doubling
 * every 1000 parts, so 10 000 parts reach ~5 TiB from 5 MiB while small streams use small parts.
 */
export function planPartSize(partNumber: number, sizing: PartSizing): number {
  if (sizing.partSizeBytes !== undefined) return sizing.partSizeBytes
  if (sizing.sizeBytes !== undefined) {
    const fit = Math.ceil(Math.ceil(sizing.sizeBytes / S3_MAX_PARTS) / MIB) * MIB
    return Math.min(S3_MAX_PART_BYTES, Math.max(sizing.minPartSizeBytes, fit))
  }
  return Math.min(S3_MAX_PART_BYTES, sizing.minPartSizeBytes * 2 ** Math.floor((partNumber - 1) / 1000))
}

/** Cuts a chunk stream into parts of asked sizes, peeking one chunk ahead to know the last part. */
export class PartReader {
  readonly #iterator: AsyncIterator<Uint8Array>
  #pending: Uint8Array | undefined
  #done = false

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]()
  }

  /** True when every byte of the source has been returned by `read`. */
  get exhausted(): boolean {
    return this.#done && this.#pending === undefined
  }

  /** The next `sizeBytes` bytes (fewer only at the end), copied into one Buffer. */
  async read(sizeBytes: number): Promise<Buffer> {
    const parts: Uint8Array[] = []
    let have = 0
    while (have < sizeBytes && (await this.#fill())) {
      const chunk = this.#pending as Uint8Array
      const take = Math.min(sizeBytes - have, chunk.byteLength)
      parts.push(chunk.subarray(0, take))
      have += take
      this.#pending = take < chunk.byteLength ? chunk.subarray(take) : undefined
    }
    await this.#fill()
    return Buffer.concat(parts, have)
  }

  async #fill(): Promise<boolean> {
    while (this.#pending === undefined && !this.#done) {
      const next = await this.#iterator.next()
      if (next.done === true) this.#done = true
      else if (next.value.byteLength > 0) this.#pending = next.value
    }
    return this.#pending !== undefined
  }
}

/** Where and how to upload. */
export interface UploadOptions extends PartSizing {
  readonly bucket: string
  readonly key: string
  /** The remote path, for error messages. */
  readonly path: string
  /** Send `If-None-Match: *` so the server refuses to replace an existing object. */
  readonly ifNoneMatch: boolean
  readonly queueSize: number
  readonly partTries: number
  readonly clock: Clock
  readonly signal?: AbortSignal | undefined
  readonly onWarning?: ((message: string, details: JsonObject) => void) | undefined
}

/** Uploads `source` as the object `options.key`: single PUT or multipart, as described above. */
export async function uploadObject(port: S3Port, source: AsyncIterable<Uint8Array>, options: UploadOptions) {
  const reader = new PartReader(source)
  const first = await reader.read(planPartSize(1, options))
  options.signal?.throwIfAborted()
  const condition = options.ifNoneMatch ? { IfNoneMatch: '*' } : {}
  if (reader.exhausted) {
    await s3Call(options.path, 'write', () =>
      port.send(
        new PutObjectCommand({
          Bucket: options.bucket,
          Key: options.key,
          Body: first,
          ContentLength: first.byteLength,
          ...condition,
        }),
        sendOptions(options.signal),
      ),
    )
    return
  }
  const created = await s3Call(options.path, 'write', () =>
    port.send(
      new CreateMultipartUploadCommand({ Bucket: options.bucket, Key: options.key }),
      sendOptions(options.signal),
    ),
  )
  const uploadId = created.UploadId
  if (uploadId === undefined)
    throw new RemoteError('IO_ERROR', `write ${JSON.stringify(options.path)}: no UploadId from the server`)
  try {
    const parts = await uploadParts(port, reader, first, uploadId, options)
    await s3Call(options.path, 'write', () =>
      port.send(
        new CompleteMultipartUploadCommand({
          Bucket: options.bucket,
          Key: options.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...condition,
        }),
        sendOptions(options.signal),
      ),
    )
  } catch (error) {
    await abortUpload(port, uploadId, options)
    throw error
  }
}

/** Uploads one part (kept in memory, so retried on its own when the server is unavailable). */
function uploadPart(
  port: S3Port,
  uploadId: string,
  partNumber: number,
  data: Buffer,
  options: UploadOptions,
) {
  const send = () =>
    s3Call(options.path, 'write', () =>
      port.send(
        new UploadPartCommand({
          Bucket: options.bucket,
          Key: options.key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: data,
          ContentLength: data.byteLength,
        }),
        sendOptions(options.signal),
      ),
    )
  return retry(send, {
    tries: options.partTries,
    delayMs: 500,
    isRetryable: isRetryableRemoteError,
    clock: options.clock,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  })
}

async function uploadParts(
  port: S3Port,
  reader: PartReader,
  first: Buffer,
  uploadId: string,
  options: UploadOptions,
) {
  const parts: CompletedPart[] = []
  const inflight = new Set<Promise<void>>()
  let failure: { error: unknown } | undefined
  let body = first
  for (let partNumber = 1; ; partNumber++) {
    const number = partNumber
    const tracked: Promise<void> = uploadPart(port, uploadId, number, body, options)
      .then(
        (response) => {
          parts[number - 1] = { PartNumber: number, ETag: response.ETag ?? '' }
        },
        (error: unknown) => {
          failure ??= { error }
        },
      )
      .finally(() => inflight.delete(tracked))
    inflight.add(tracked)
    if (reader.exhausted) break
    // Bounded memory: read the next part only when fewer than queueSize parts are in flight.
    while (inflight.size >= options.queueSize && failure === undefined) await Promise.race(inflight)
    if (failure !== undefined) break
    if (partNumber >= S3_MAX_PARTS) {
      const message = `write ${JSON.stringify(options.path)}: more than ${S3_MAX_PARTS} parts; set a larger part size`
      failure = { error: new RemoteError('UNSUPPORTED', message) }
      break
    }
    try {
      body = await reader.read(planPartSize(partNumber + 1, options))
    } catch (error) {
      // The source failed: let the parts in flight settle before the caller aborts the upload.
      failure ??= { error }
      break
    }
  }
  await Promise.all(inflight)
  if (failure !== undefined) throw failure.error
  return parts
}

async function abortUpload(port: S3Port, uploadId: string, options: UploadOptions): Promise<void> {
  try {
    await port.send(
      new AbortMultipartUploadCommand({ Bucket: options.bucket, Key: options.key, UploadId: uploadId }),
    )
  } catch (error) {
    // Some servers (s3rver) do not implement Abort: the parts stay until a lifecycle rule removes
    // them; the object itself was never published, so correctness does not depend on this.
    options.onWarning?.('could not abort the multipart upload', {
      path: options.path,
      uploadId,
      error: error instanceof Error ? error.name : String(error),
    })
  }
}

/** The SDK's per-request options carrying our AbortSignal. */
export function sendOptions(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal }
}

/** Runs one SDK call, mapping its errors to RemoteError naming `operation` and `path`. */
export async function s3Call<T>(path: string, operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    throw toS3RemoteError(error, operation, path)
  }
}
