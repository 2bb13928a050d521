import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Clock } from '../shared/clock.ts'
import { createFixedClock } from '../shared/clock.ts'
import { createRateLimiter, rateLimited } from './rate-limit.ts'

/**
 * Virtual time: `sleep` resolves only when `run` moves the clock to its deadline, so concurrent
 * readers overlap as they would in real time, and no test waits for real.
 */
function virtualClock(): Clock & { run(until: () => boolean): Promise<void> } {
  let now = 0
  const timers: { at: number; wake: () => void }[] = []
  const turn = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
  }
  return {
    now: () => now,
    sleep(ms, signal) {
      signal?.throwIfAborted()
      return new Promise((resolve) => timers.push({ at: now + ms, wake: resolve }))
    },
    async run(until) {
      await turn()
      while (!until()) {
        timers.sort((a, b) => a.at - b.at)
        const next = timers.shift()
        if (next === undefined) assert.fail('nothing to wait for, yet not done')
        now = Math.max(now, next.at)
        next.wake()
        await turn()
      }
    },
  }
}

async function drain(stream: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0
  for await (const chunk of stream) bytes += chunk.byteLength
  return bytes
}

const chunks = (count: number, size: number): Uint8Array[] =>
  Array.from({ length: count }, () => new Uint8Array(size))

async function* from(list: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of list) {
    await Promise.resolve()
    yield chunk
  }
}

describe('createRateLimiter', () => {
  it('waits exactly what the rate requires once the burst is spent (one stream)', async () => {
    const clock = createFixedClock()
    const limiter = createRateLimiter(1000, { clock, burstBytes: 1000 })
    assert.equal(await drain(rateLimited(from(chunks(10, 1000)), limiter)), 10_000)
    assert.equal(clock.sleptMs, 9000)
  })

  it('0 is unlimited: nothing waits', async () => {
    const clock = createFixedClock()
    const limiter = createRateLimiter(0, { clock })
    assert.equal(await drain(rateLimited(from(chunks(100, 1 << 20)), limiter)), 100 << 20)
    assert.equal(clock.sleptMs, 0)
  })

  it('is shared: two streams through one limiter move at the rate together, not each', async () => {
    for (const shared of [true, false]) {
      const clock = virtualClock()
      const one = createRateLimiter(1000, { clock, burstBytes: 1000 })
      const limiter = (): ReturnType<typeof createRateLimiter> =>
        shared ? one : createRateLimiter(1000, { clock, burstBytes: 1000 })
      let done = 0
      const both = [limiter(), limiter()].map((l) =>
        drain(rateLimited(from(chunks(5, 1000)), l)).then((bytes) => {
          done += 1
          return bytes
        }),
      )
      await clock.run(() => done === 2)
      assert.deepEqual(await Promise.all(both), [5000, 5000])
      // 10 000 bytes at 1000 B/s with one 1000-byte burst: 9 s shared; 4 s if each had its own.
      assert.equal(clock.now(), shared ? 9000 : 4000)
    }
  })

  it('rejects with the abort reason while waiting', async () => {
    const clock = virtualClock()
    const limiter = createRateLimiter(10, { clock, burstBytes: 0 })
    const controller = new AbortController()
    const reason = new Error('job aborted')
    controller.abort(reason)
    await assert.rejects(limiter.take(100, controller.signal), reason)
  })

  it('refuses a negative, infinite or NaN rate and burst', () => {
    for (const bad of [-1, Number.POSITIVE_INFINITY, Number.NaN]) {
      assert.throws(() => createRateLimiter(bad), { code: 'RATE_LIMIT_INVALID' })
      assert.throws(() => createRateLimiter(1000, { burstBytes: bad }), { code: 'RATE_LIMIT_INVALID' })
    }
  })
})
