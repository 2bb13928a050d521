import type { Clock } from './clock.ts'
import { systemClock } from './clock.ts'
import { isAbortError } from './errors.ts'

/** Options of mapWithConcurrency. */
export interface MapOptions {
  readonly signal?: AbortSignal
}

/**
 * Maps `items` through `fn` with at most `limit` calls in flight and returns the results in input
 * order. On the first failure (or abort) no new call starts; the calls in flight are awaited, then
 * the first error (or the signal's reason) is thrown, so no work outlives the call.
 */
export async function mapWithConcurrency<T, R>(
  items: Iterable<T>,
  limit: number,
  fn: (item: T, index: number, signal: AbortSignal) => Promise<R>,
  options: MapOptions = {},
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limit must be an integer >= 1, got ${limit}`)
  const list = [...items]
  const results = new Array<R>(list.length)
  // Children see one signal that fires on the caller's abort and on a sibling's failure.
  const controller = new AbortController()
  const onAbort = (): void => {
    controller.abort(options.signal?.reason)
  }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined && !controller.signal.aborted && next < list.length) {
      const index = next++
      try {
        results[index] = await fn(list[index] as T, index, controller.signal)
      } catch (error) {
        failure ??= { error }
        controller.abort(error)
      }
    }
  }
  try {
    options.signal?.throwIfAborted()
    await Promise.all(Array.from({ length: Math.min(limit, list.length) }, worker))
  } finally {
    options.signal?.removeEventListener('abort', onAbort)
  }
  if (failure !== undefined) throw failure.error
  options.signal?.throwIfAborted()
  return results
}

/** Options of retry; delays grow as `delayMs * factor^(attempt-1)` up to `maxDelayMs`. */
export interface RetryOptions {
  /** Total attempts, the first included (default 3). */
  readonly tries?: number
  readonly delayMs?: number
  readonly factor?: number
  readonly maxDelayMs?: number
  /** Randomise each delay in [delay/2, delay] so many clients do not retry in step (default true). */
  readonly jitter?: boolean
  /** Which errors are worth another attempt; aborts never are. Default: none. */
  readonly isRetryable?: (error: unknown) => boolean
  readonly onRetry?: (error: unknown, attempt: number, delayMs: number) => void
  readonly clock?: Clock
  readonly signal?: AbortSignal
}

/**
 * Calls `fn(attempt)` until it resolves, an error is not retryable, or `tries` attempts are spent,
 * sleeping with exponential backoff between attempts; throws the last error.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { tries = 3, delayMs = 1000, factor = 2, maxDelayMs = 30_000, jitter = true } = options
  const { isRetryable = () => false, clock = systemClock, signal } = options
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted()
    try {
      return await fn(attempt)
    } catch (error) {
      if (attempt >= tries || isAbortError(error) || signal?.aborted === true || !isRetryable(error))
        throw error
      const base = Math.min(maxDelayMs, delayMs * factor ** (attempt - 1))
      const wait = jitter ? base / 2 + (Math.random() * base) / 2 : base
      options.onRetry?.(error, attempt, wait)
      await clock.sleep(wait, signal)
    }
  }
}
