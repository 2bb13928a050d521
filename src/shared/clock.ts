import { setTimeout as delay } from 'node:timers/promises'

/**
 * The only source of time (architecture.md §8): `now()` in epoch milliseconds and a `sleep`
 * that honours an AbortSignal. Code takes a Clock as a parameter; nothing else reads the wall clock.
 */
export interface Clock {
  now(): number
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await delay(ms, undefined, signal === undefined ? undefined : { signal })
  },
}

/** A test clock: time moves only when `advance` or `sleep` is called, so tests never wait. */
export interface FixedClock extends Clock {
  advance(ms: number): void
  /** Sum of every `sleep` asked for since creation (what retry/throttle would have waited). */
  readonly sleptMs: number
}

/** Creates a FixedClock starting at `startMs` (epoch ms); `sleep` advances time at once. */
export function createFixedClock(startMs = Date.UTC(2026, 0, 1)): FixedClock {
  let now = startMs
  let sleptMs = 0
  return {
    now: () => now,
    advance(ms) {
      now += ms
    },
    get sleptMs() {
      return sleptMs
    },
    sleep(ms, signal) {
      signal?.throwIfAborted()
      now += ms
      sleptMs += ms
      return Promise.resolve()
    },
  }
}
