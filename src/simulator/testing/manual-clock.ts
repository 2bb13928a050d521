// A test clock whose sleeps end only when the test moves time past them, for simulator behaviours
// that wait on the clock (guest tools coming up): unlike createFixedClock, a sleep does not move time.
import type { Clock } from '../../shared/clock.ts'

/** A Clock driven by the test: `advance` moves time and ends the sleeps it passes. */
export interface ManualClock extends Clock {
  advance(ms: number): void
  /** Sleeps not yet ended nor aborted. */
  readonly sleepers: number
}

interface Sleeper {
  readonly until: number
  readonly wake: () => void
}

/** Creates a ManualClock at `startMs`; `sleep(ms)` with ms ≤ 0 ends at once, an aborted sleep rejects. */
export function createManualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let now = startMs
  const sleepers = new Set<Sleeper>()
  return {
    now: () => now,
    get sleepers() {
      return sleepers.size
    },
    advance(ms) {
      if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`advance: expected ms ≥ 0, got ${ms}`)
      now += ms
      for (const sleeper of [...sleepers]) {
        if (sleeper.until > now) continue
        sleepers.delete(sleeper)
        sleeper.wake()
      }
    },
    sleep(ms, signal) {
      if (signal?.aborted === true) return Promise.reject(signal.reason as Error)
      if (ms <= 0) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          sleepers.delete(sleeper)
          reject(signal?.reason as Error)
        }
        const sleeper: Sleeper = {
          until: now + ms,
          wake: () => {
            signal?.removeEventListener('abort', onAbort)
            resolve()
          },
        }
        sleepers.add(sleeper)
        signal?.addEventListener('abort', onAbort, { once: true })
      })
    },
  }
}
