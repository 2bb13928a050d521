import { Readable } from 'node:stream'
import type { Clock } from '../../shared/clock.ts'
import { systemClock } from '../../shared/clock.ts'
import { retry } from '../../shared/async.ts'
import type { RetryOptions } from '../../shared/async.ts'
import { isRemoteError, isRetryableRemoteError, toRemoteError } from '../remote-error.ts'
import type { ListOptions, ReadOptions, Remote, RemoteEntry } from '../remote.ts'
import { wrapRemote } from './wrap-remote.ts'

/** Retry policy of withRetry (attempts include the first; backoff as in shared `retry`). */
export interface RemoteRetryPolicy {
  readonly tries?: number
  readonly delayMs?: number
  readonly maxDelayMs?: number
  readonly clock?: Clock
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

/**
 * Retries what is safe to repeat, on UNAVAILABLE only (isRetryableRemoteError): stat, info,
 * delete(Many), rename (a retry that finds the source gone and the target present succeeded);
 * reads reopen at the offset where the stream failed (restic's Load); listings restart only if
 * nothing was yielded yet; writes only when the source is a Uint8Array (a stream cannot be
 * replayed: S3 retries per part inside the upload instead); lock acquisition is never retried.
 */
export function withRetry(inner: Remote, policy: RemoteRetryPolicy = {}): Remote {
  const clock = policy.clock ?? systemClock
  const options: RetryOptions = {
    tries: policy.tries ?? 4,
    delayMs: policy.delayMs ?? 200,
    maxDelayMs: policy.maxDelayMs ?? 5000,
    isRetryable: isRetryableRemoteError,
    clock,
    ...(policy.onRetry === undefined ? {} : { onRetry: policy.onRetry }),
  }
  const again = <T>(fn: (attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> =>
    retry(fn, signal === undefined ? options : { ...options, signal })
  return wrapRemote(inner, {
    read: (path, readOptions) => resilientRead(inner, path, readOptions ?? {}, again, options.tries ?? 4),
    write: (path, source, writeOptions) =>
      source instanceof Uint8Array
        ? again(() => inner.write(path, source, writeOptions), writeOptions?.signal)
        : inner.write(path, source, writeOptions),
    stat: (path) => again(() => inner.stat(path)),
    list: (prefix, listOptions) => resilientList(inner, prefix, listOptions ?? {}, again),
    delete: (path) => again(() => inner.delete(path)),
    deleteMany: (paths) => again(() => inner.deleteMany(paths)),
    rename: (from, to) =>
      again(async (attempt) => {
        try {
          await inner.rename(from, to)
        } catch (error) {
          // An earlier attempt may have completed on the server before its answer was lost.
          if (attempt > 1 && isRemoteError(error, 'NOT_FOUND') && (await exists(inner, to))) return
          throw error
        }
      }),
    info: () => again(() => inner.info()),
  })
}

async function exists(remote: Remote, path: string): Promise<boolean> {
  try {
    await remote.stat(path)
    return true
  } catch (error) {
    if (isRemoteError(error, 'NOT_FOUND')) return false
    throw error
  }
}

type Again = <T>(fn: (attempt: number) => Promise<T>, signal?: AbortSignal) => Promise<T>

async function resilientRead(inner: Remote, path: string, options: ReadOptions, again: Again, tries: number) {
  const first = await again(() => inner.read(path, options), options.signal)
  async function* chunks(): AsyncGenerator<Uint8Array> {
    let stream = first
    let offset = options.start ?? 0
    for (let failures = 0; ;) {
      try {
        for await (const chunk of stream as AsyncIterable<Uint8Array>) {
          offset += chunk.byteLength
          yield chunk
        }
        return
      } catch (raw) {
        const error = toRemoteError(raw, 'read', path)
        if (!isRetryableRemoteError(error) || ++failures >= tries) throw error
        // Reopen where the failed stream stopped; the bytes already delivered are not read again.
        const from = offset
        stream = await again(() => inner.read(path, { ...options, start: from }), options.signal)
      }
    }
  }
  return Readable.from(chunks(), { objectMode: false })
}

async function* resilientList(
  inner: Remote,
  prefix: string,
  options: ListOptions,
  again: Again,
): AsyncGenerator<RemoteEntry> {
  // Only getting the first entry (the first page) is retried: after that a restart would repeat
  // entries the caller has already seen, so later failures are the caller's to handle.
  const { iterator, first } = await again(async () => {
    const it = inner.list(prefix, options)[Symbol.asyncIterator]()
    return { iterator: it, first: await it.next() }
  }, options.signal)
  for (let next = first; next.done !== true; next = await iterator.next()) yield next.value
}
