import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setImmediate as tick } from 'node:timers/promises'
import { mapWithConcurrency, retry } from './async.ts'
import { createFixedClock } from './clock.ts'
import { BackupError } from './errors.ts'

describe('mapWithConcurrency', () => {
  it('keeps input order and never exceeds the limit', async () => {
    let running = 0
    let peak = 0
    const out = await mapWithConcurrency([5, 1, 4, 2, 3], 2, async (n) => {
      running++
      peak = Math.max(peak, running)
      for (let i = 0; i < n; i++) await tick()
      running--
      return n * 10
    })
    assert.deepEqual(out, [50, 10, 40, 20, 30])
    assert.equal(peak, 2)
  })

  it('starts nothing after a failure, awaits calls in flight, then throws the first error', async () => {
    const started: number[] = []
    let finished = 0
    const failure = mapWithConcurrency([0, 1, 2, 3, 4], 2, async (n, _i, signal) => {
      started.push(n)
      if (n === 0) throw new Error('boom')
      await tick()
      finished++
      assert.equal(signal.aborted, true, 'siblings see the abort')
    })
    await assert.rejects(failure, /boom/)
    assert.deepEqual(started, [0, 1])
    assert.equal(finished, 1)
  })

  it('stops on abort with the signal reason', async () => {
    const controller = new AbortController()
    const seen: number[] = []
    const run = mapWithConcurrency(
      [1, 2, 3, 4],
      1,
      async (n) => {
        seen.push(n)
        if (n === 2) controller.abort(new Error('stop'))
        await tick()
      },
      { signal: controller.signal },
    )
    await assert.rejects(run, /stop/)
    assert.deepEqual(seen, [1, 2])
  })

  it('rejects a bad limit', async () => {
    await assert.rejects(
      mapWithConcurrency([1], 0, () => Promise.resolve()),
      RangeError,
    )
  })
})

describe('retry', () => {
  const transient = (): BackupError => new BackupError('TRANSIENT', 'try again')

  it('retries retryable errors with exponential backoff, then succeeds', async () => {
    const clock = createFixedClock()
    const delays: number[] = []
    const value = await retry(
      (attempt) => (attempt < 3 ? Promise.reject(transient()) : Promise.resolve(attempt)),
      {
        tries: 5,
        delayMs: 100,
        jitter: false,
        clock,
        isRetryable: (e) => e instanceof BackupError && e.code === 'TRANSIENT',
        onRetry: (_e, _attempt, ms) => delays.push(ms),
      },
    )
    assert.equal(value, 3)
    assert.deepEqual(delays, [100, 200])
    assert.equal(clock.sleptMs, 300)
  })

  it('gives up after `tries` and throws the last error', async () => {
    let calls = 0
    await assert.rejects(
      retry(
        () => {
          calls++
          return Promise.reject(transient())
        },
        { tries: 3, clock: createFixedClock(), isRetryable: () => true, maxDelayMs: 50 },
      ),
      /try again/,
    )
    assert.equal(calls, 3)
  })

  it('does not retry what is not retryable, nor aborts', async () => {
    let calls = 0
    await assert.rejects(
      retry(
        () => {
          calls++
          return Promise.reject(new Error('fatal'))
        },
        { clock: createFixedClock(), isRetryable: (e) => e instanceof BackupError },
      ),
      /fatal/,
    )
    assert.equal(calls, 1)
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' })
    calls = 0
    await assert.rejects(
      retry(
        () => {
          calls++
          return Promise.reject(abort)
        },
        { clock: createFixedClock(), isRetryable: () => true },
      ),
      /aborted/,
    )
    assert.equal(calls, 1)
  })

  it('keeps jittered delays within [delay/2, delay]', async () => {
    const delays: number[] = []
    await assert.rejects(
      retry(() => Promise.reject(transient()), {
        tries: 4,
        delayMs: 1000,
        clock: createFixedClock(),
        isRetryable: () => true,
        onRetry: (_e, _a, ms) => delays.push(ms),
      }),
    )
    delays.forEach((ms, i) => {
      const base = 1000 * 2 ** i
      assert.ok(ms >= base / 2 && ms <= base, `delay ${ms} within [${base / 2}, ${base}]`)
    })
  })
})
