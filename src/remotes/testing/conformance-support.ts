// Helpers shared by the conformance suite's parts and by remote tests.
import assert from 'node:assert/strict'
import type { FixedClock } from '../../shared/clock.ts'
import { createFixedClock } from '../../shared/clock.ts'
import { isRemoteError } from '../remote-error.ts'
import type { RemoteErrorCode } from '../remote-error.ts'
import type { Remote } from '../remote.ts'

/** A remote under test and how to dispose of it. */
export interface RemoteUnderTest {
  readonly remote: Remote
  readonly cleanup?: () => Promise<void>
}

/** Creates a fresh, empty remote whose time (locks) comes from `clock`. */
export type RemoteFactory = (clock: FixedClock) => Promise<RemoteUnderTest>

/** Options of the suite. */
export interface ConformanceOptions {
  /** Size of the "large" streamed write, enough to cross the backend's part size (default 1 MiB). */
  readonly largeWriteBytes?: number
}

/** Runs `fn` against a fresh remote and always cleans up. */
export async function withRemote(
  factory: RemoteFactory,
  fn: (remote: Remote, clock: FixedClock) => Promise<void>,
) {
  const clock = createFixedClock()
  const { remote, cleanup } = await factory(clock)
  try {
    await fn(remote, clock)
  } finally {
    await cleanup?.()
  }
}

/** Asserts that `promise` rejects with a RemoteError of `code`. */
export async function rejectsWith(promise: Promise<unknown>, code: RemoteErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isRemoteError(error, code), `expected RemoteError ${code}, got ${String(error)}`)
    return true
  })
}

/** Deterministic bytes (so a shifted or repeated range is caught). */
export function patternBytes(sizeBytes: number, seed = 1): Buffer {
  const out = Buffer.alloc(sizeBytes)
  let x = seed >>> 0 || 1
  for (let i = 0; i < sizeBytes; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}
