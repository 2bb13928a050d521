import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3'
import { Readable } from 'node:stream'
import type { Clock } from '../../shared/clock.ts'
import { systemClock } from '../../shared/clock.ts'
import type { JsonObject } from '../../shared/json.ts'
import { acquireCasLease } from '../cas-lease-lock.ts'
import { acquireLease } from '../lease-lock.ts'
import { isRemoteError, RemoteError } from '../remote-error.ts'
import type {
  ListOptions,
  LockHandle,
  LockOptions,
  ReadOptions,
  Remote,
  RemoteCapabilities,
  RemoteEntry,
  RemoteInfo,
  WriteOptions,
  WriteSource,
} from '../remote.ts'
import { checkRemotePath } from '../remote-path.ts'
import { checkedChunks, checkRange, checkStartWithin, sliceBytes, sourceChunks } from '../byte-streams.ts'
import { S3_MAX_PART_BYTES, S3_MIN_PART_BYTES, s3Call, sendOptions, uploadObject } from './s3-upload.ts'
import type { S3Port } from './s3-upload.ts'
import { copyObject } from './s3-copy.ts'
import { s3VersionedStore } from './s3-versioned-store.ts'

/**
 * Makes a ranged GET's body exactly `[start, end)`. RFC 9110 §14.2 lets a server ignore Range and
 * send the whole object (200, no Content-Range); s3rver 3.7.1 answers `bytes=0-0` with the whole
 * object and a matching Content-Range. Either way, cut out what was asked.
 */
function trimToRange(
  body: Readable,
  contentRange: string | undefined,
  start: number,
  end: number | undefined,
): Readable {
  const match = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '')
  const sentStart = match === null ? 0 : Number(match[1])
  const sentEnd = match === null ? Infinity : Number(match[2]) + 1
  if (sentStart > start) {
    throw new RemoteError(
      'IO_ERROR',
      `read: server sent range ${contentRange ?? '?'} for a request from byte ${start}`,
    )
  }
  if (sentStart === start && (end === undefined || sentEnd <= end)) return body
  return Readable.from(sliceBytes(body, start - sentStart, end === undefined ? undefined : end - start))
}

/** Options of S3Remote. */
export interface S3RemoteOptions {
  readonly client: S3Port
  readonly bucket: string
  /** Directory inside the bucket (no leading or trailing slash; '' = the bucket's root). */
  readonly prefix?: string
  /** The server honours `If-None-Match: *` on PUT and multipart complete (AWS since 2024, MinIO). */
  readonly conditionalWrites?: boolean
  readonly minPartSizeBytes?: number
  readonly partSizeBytes?: number
  /** Parts uploading at once, which is also how many parts are in memory (default 2). */
  readonly queueSize?: number
  readonly partTries?: number
  /**
   * How CopyObject's source key is escaped: 'component' (default; every reserved character
   * percent-encoded, as AWS, MinIO and Ceph decode it) or 'uri' (reserved characters raw), for
   * servers that decode it with decodeURI only (s3rver 3.7.1; docs/remotes.md §8).
   */
  readonly copySourceEncoding?: 'component' | 'uri'
  /** Largest object renamed with one CopyObject (default 5 GiB, S3's limit); tests lower it. */
  readonly singleCopyMaxBytes?: number
  /** Part size of multipart copies (default: planCopyPartSize). */
  readonly copyPartSizeBytes?: number
  /** Keys per ListObjectsV2 page (default 1000, the S3 maximum). */
  readonly listPageSize?: number
  readonly clock?: Clock
  /** Display form without credentials (default `s3://<bucket>/<prefix>`). */
  readonly description?: string
  /** Receives problems that do not fail the call (an upload that could not be aborted). */
  readonly onWarning?: (message: string, details: JsonObject) => void
}

/**
 * A Remote on an S3 bucket prefix: single PUT or multipart writes (visible only when complete),
 * ranged GETs, paginated listings, DeleteObjects batches of 1000, rename as copy + delete (not
 * atomic), lease locks (exclusive only with conditional writes). Directories are virtual.
 */
export class S3Remote implements Remote {
  readonly capabilities: RemoteCapabilities
  readonly description: string
  readonly #port: S3Port
  readonly #bucket: string
  readonly #root: string
  readonly #options: S3RemoteOptions
  readonly #clock: Clock

  constructor(options: S3RemoteOptions) {
    const conditional = options.conditionalWrites === true
    this.capabilities = {
      atomicRename: false,
      conditionalCreate: conditional,
      locking: conditional ? 'exclusive' : 'best-effort',
      readOnly: false,
    }
    this.#port = options.client
    this.#bucket = options.bucket
    const prefix = options.prefix ?? ''
    if (prefix !== '') checkRemotePath(prefix)
    this.#root = prefix === '' ? '' : `${prefix}/`
    this.#options = options
    this.#clock = options.clock ?? systemClock
    this.description = options.description ?? `s3://${options.bucket}/${prefix}`
  }

  #key(path: string): string {
    return this.#root + checkRemotePath(path)
  }

  async read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const key = this.#key(path)
    const { start, end } = checkRange(path, options)
    // An empty range cannot be expressed as an HTTP Range: check existence and bounds instead.
    if (end !== undefined && end === start) return this.#emptyRead(path, start)
    const range =
      start === 0 && end === undefined ? {} : { Range: `bytes=${start}-${end === undefined ? '' : end - 1}` }
    try {
      const response = await s3Call(path, 'read', () =>
        this.#port.send(
          new GetObjectCommand({ Bucket: this.#bucket, Key: key, ...range }),
          sendOptions(options.signal),
        ),
      )
      const body = response.Body instanceof Readable ? response.Body : Readable.from([])
      return range.Range === undefined ? body : trimToRange(body, response.ContentRange, start, end)
    } catch (error) {
      // 416: start at or beyond the end (also any range on an empty object). At the end is empty.
      if (isRemoteError(error, 'INVALID_RANGE')) return this.#emptyRead(path, start)
      throw error
    }
  }

  async #emptyRead(path: string, start: number): Promise<Readable> {
    checkStartWithin(path, start, (await this.stat(path)).sizeBytes)
    return Readable.from([])
  }

  async write(path: string, source: WriteSource, options: WriteOptions = {}): Promise<void> {
    const key = this.#key(path)
    options.signal?.throwIfAborted()
    const ifAbsent = options.ifAbsent === true
    if (ifAbsent && !this.capabilities.conditionalCreate) {
      // Check-then-write: correct without concurrent writers only (capabilities.conditionalCreate).
      const exists = await this.stat(path).then(
        () => true,
        (error: unknown) => {
          if (isRemoteError(error, 'NOT_FOUND')) return false
          throw error
        },
      )
      if (exists)
        throw new RemoteError('ALREADY_EXISTS', `write ${JSON.stringify(path)}: file exists`, {
          details: { path },
        })
    }
    const minPartSizeBytes = this.#options.minPartSizeBytes ?? S3_MIN_PART_BYTES
    await uploadObject(this.#port, checkedChunks(sourceChunks(source), path, options.sizeBytes), {
      bucket: this.#bucket,
      key,
      path,
      ifNoneMatch: ifAbsent && this.capabilities.conditionalCreate,
      minPartSizeBytes,
      ...(this.#options.partSizeBytes === undefined
        ? {}
        : { partSizeBytes: Math.min(S3_MAX_PART_BYTES, this.#options.partSizeBytes) }),
      ...(options.sizeBytes === undefined ? {} : { sizeBytes: options.sizeBytes }),
      queueSize: this.#options.queueSize ?? 2,
      partTries: this.#options.partTries ?? 3,
      clock: this.#clock,
      signal: options.signal,
      onWarning: this.#options.onWarning,
    })
  }

  async stat(path: string): Promise<RemoteEntry> {
    const key = this.#key(path)
    const head = await s3Call(path, 'stat', () =>
      this.#port.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key })),
    )
    return {
      path,
      kind: 'file',
      sizeBytes: head.ContentLength ?? 0,
      ...(head.LastModified === undefined ? {} : { modifiedMs: head.LastModified.getTime() }),
    }
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<RemoteEntry> {
    const base = this.#root + (checkRemotePath(prefix, true) === '' ? '' : `${prefix}/`)
    const recursive = options.recursive === true
    let token: string | undefined
    do {
      const page = await s3Call(prefix, 'list', () =>
        this.#port.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: base,
            MaxKeys: this.#options.listPageSize ?? 1000,
            ...(recursive ? {} : { Delimiter: '/' }),
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          sendOptions(options.signal),
        ),
      )
      for (const object of page.Contents ?? []) {
        // Keys ending in '/' are "folder markers" some tools create: not files.
        if (object.Key === undefined || object.Key.endsWith('/')) continue
        yield {
          path: object.Key.slice(this.#root.length),
          kind: 'file',
          sizeBytes: object.Size ?? 0,
          ...(object.LastModified === undefined ? {} : { modifiedMs: object.LastModified.getTime() }),
        }
      }
      for (const common of page.CommonPrefixes ?? []) {
        if (common.Prefix === undefined) continue
        yield { path: common.Prefix.slice(this.#root.length, -1), kind: 'directory', sizeBytes: 0 }
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  async delete(path: string): Promise<void> {
    const key = this.#key(path)
    await s3Call(path, 'delete', () =>
      this.#port.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key })),
    )
  }

  async deleteMany(paths: readonly string[]): Promise<void> {
    const keys = paths.map((path) => this.#key(path))
    // DeleteObjects takes at most 1000 keys per request.
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000)
      const first = paths[i] ?? ''
      const response = await s3Call(first, 'deleteMany', () =>
        this.#port.send(
          new DeleteObjectsCommand({
            Bucket: this.#bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        ),
      )
      const failed = response.Errors?.[0]
      if (failed !== undefined) {
        const path = (failed.Key ?? '').slice(this.#root.length)
        throw new RemoteError(
          'IO_ERROR',
          `deleteMany ${JSON.stringify(path)}: ${failed.Code ?? '?'}: ${failed.Message ?? ''}`,
          {
            details: { path, s3Error: failed.Code ?? null, failedCount: response.Errors?.length ?? 0 },
          },
        )
      }
    }
  }

  async rename(from: string, to: string): Promise<void> {
    const sourceKey = this.#key(from)
    const targetKey = this.#key(to)
    const { sizeBytes } = await this.stat(from)
    const encode = this.#options.copySourceEncoding === 'uri' ? encodeURI : encodeURIComponent
    await copyObject(
      this.#port,
      {
        bucket: this.#bucket,
        sourceKey,
        targetKey,
        sizeBytes,
        copySource: `${this.#bucket}/${sourceKey.split('/').map(encode).join('/')}`,
        path: from,
        onWarning: this.#options.onWarning,
        ...(this.#options.singleCopyMaxBytes === undefined
          ? {}
          : { singleCopyMaxBytes: this.#options.singleCopyMaxBytes }),
      },
      this.#options.copyPartSizeBytes,
    )
    await this.delete(from)
  }

  lock(path: string, options: LockOptions): Promise<LockHandle> {
    // With conditional writes, leases are compare-and-swap on the ETag (exclusive, takeover
    // included); without, the check-then-write lease is best-effort (docs/remotes.md §5).
    if (!this.capabilities.conditionalCreate) return acquireLease(this, path, options.ttlMs, this.#clock)
    const store = s3VersionedStore(this.#port, this.#bucket, (p) => this.#key(p))
    return acquireCasLease(store, path, options.ttlMs, this.#clock)
  }

  info(): Promise<RemoteInfo> {
    return Promise.resolve({})
  }
}
