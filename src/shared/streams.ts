import type { Clock } from './clock.ts'
import { systemClock } from './clock.ts'

/** A pipeline stage: takes chunks, yields chunks (usable in `stream.pipeline` and `for await`). */
export type Stage = (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array>

/**
 * A stage that passes chunks through unchanged and reports each chunk's length to `onBytes`
 * (the counter lives in the pipeline, never as a listener on a stream).
 */
export function countBytes(onBytes: (bytes: number) => void): Stage {
  return async function* (source) {
    for await (const chunk of source) {
      onBytes(chunk.byteLength)
      yield chunk
    }
  }
}

/** Options of throttle. */
export interface ThrottleOptions {
  readonly clock?: Clock
  readonly signal?: AbortSignal
  /** Bytes that may pass at once after idling (default: one second's worth). */
  readonly burstBytes?: number
}

/**
 * A stage that limits throughput to `bytesPerSec` with a token bucket: a chunk waits until the
 * bytes it carries are earned. Memory stays at one chunk; the average rate over any window longer
 * than the burst converges to the limit.
 */
export function throttle(bytesPerSec: number, options: ThrottleOptions = {}): Stage {
  if (!(bytesPerSec > 0)) throw new RangeError(`bytesPerSec must be > 0, got ${bytesPerSec}`)
  const { clock = systemClock, signal, burstBytes = bytesPerSec } = options
  return async function* (source) {
    let tokens = burstBytes
    let last = clock.now()
    for await (const chunk of source) {
      const now = clock.now()
      tokens = Math.min(burstBytes, tokens + ((now - last) * bytesPerSec) / 1000)
      last = now
      tokens -= chunk.byteLength
      if (tokens < 0) {
        const waitMs = (-tokens * 1000) / bytesPerSec
        await clock.sleep(waitMs, signal)
        // The bytes earned during the sleep paid the debt: restart from zero at the new time.
        tokens = 0
        last = clock.now()
      }
      yield chunk
    }
  }
}
