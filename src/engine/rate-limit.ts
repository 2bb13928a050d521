// The job's `maxExportRate` (xen-orchestra-backups.md §9: "shared per job run"): one limiter object
// for every export of a run, applied on the source side once, so that N targets fed by one export
// (fan-out.ts) do not multiply the rate, and N disks exported at once share it.
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import { BackupError } from '../shared/errors.ts'

/** A bad limiter argument (rate or burst not a finite number >= 0). */
export class RateLimitError extends BackupError<'RATE_LIMIT_INVALID'> {}

/** A token bucket shared by every export of a job run; `take` waits until `bytes` are earned. */
export interface RateLimiter {
  /** The limit in bytes per second; 0 means unlimited (take never waits). */
  readonly bytesPerSecond: number
  /** Reserves `bytes` and resolves once the rate allows them (rejects with the signal's reason on abort). */
  take(bytes: number, signal?: AbortSignal): Promise<void>
}

/** Options of createRateLimiter. */
export interface RateLimiterOptions {
  /** Time source and sleeps (a FixedClock in tests: waits are added to `sleptMs`, none is real). */
  readonly clock?: Clock
  /** Bytes that may pass at once after idling (default: a tenth of a second's worth, at least 64 KiB). */
  readonly burstBytes?: number
}

function checkAmount(value: number, what: string): number {
  if (!Number.isFinite(value) || value < 0)
    throw new RateLimitError('RATE_LIMIT_INVALID', `${what}: expected a finite number >= 0, got ${value}`)
  return value
}

/**
 * A token bucket of `bytesPerSecond` (0 = unlimited). Concurrent takers reserve in call order: each
 * debits the bucket at once (it may go negative) and sleeps until its debt is paid, so the bytes
 * of all takers together never pass faster than the rate (plus one burst), whatever their number.
 */
export function createRateLimiter(bytesPerSecond: number, options: RateLimiterOptions = {}): RateLimiter {
  const rate = checkAmount(bytesPerSecond, 'maxExportRate (bytes/s)')
  const clock = options.clock ?? systemClock
  const burst = checkAmount(options.burstBytes ?? Math.max(64 * 1024, rate / 10), 'burstBytes')
  let tokens = burst
  let last = clock.now()
  return {
    bytesPerSecond: rate,
    async take(bytes, signal) {
      signal?.throwIfAborted()
      if (rate === 0 || bytes <= 0) return
      const now = clock.now()
      // Refill for the time elapsed since the last reservation, never above one burst.
      tokens = Math.min(burst, tokens + ((now - last) * rate) / 1000)
      last = now
      tokens -= bytes
      if (tokens >= 0) return
      // The debt includes earlier takers' reservations: this taker waits behind them.
      await clock.sleep((-tokens * 1000) / rate, signal)
    },
  }
}

/**
 * Passes `chunks` through unchanged, each one after `limiter` let its bytes go (no limiter: as is).
 * Memory stays at one chunk; the wait happens before the chunk is handed on.
 */
export async function* rateLimited(
  chunks: AsyncIterable<Uint8Array>,
  limiter: RateLimiter | undefined,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array> {
  if (limiter === undefined || limiter.bytesPerSecond === 0) {
    yield* chunks
    return
  }
  for await (const chunk of chunks) {
    await limiter.take(chunk.byteLength, signal)
    yield chunk
  }
}
