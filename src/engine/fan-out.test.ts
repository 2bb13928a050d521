import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BlockSource, DiskBlock } from '../formats/block-source.ts'
import { FanOutError, fanOut, fanOutBlockSource, runConsumers } from './fan-out.ts'

/** A source of `count` one-byte chunks that counts its reads and whether it was closed (its finally ran). */
function countingSource(count: number, failAt?: number) {
  const state = { pulled: 0, finished: false, closed: false }
  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < count; i++) {
        if (i === failAt) throw new Error(`source broke at chunk ${i}`)
        state.pulled += 1
        await Promise.resolve()
        yield Uint8Array.of(i)
      }
      state.finished = true
    } finally {
      if (!state.finished) state.closed = true
    }
  }
  return { state, source: generate() }
}

/** Lets every pending promise callback run (several event-loop turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

async function collect(iterable: AsyncIterable<Uint8Array>): Promise<number[]> {
  const out: number[] = []
  for await (const chunk of iterable) out.push(chunk[0] ?? -1)
  return out
}

function gate(): { wait: () => Promise<void>; open: () => void } {
  let release: () => void = () => undefined
  let promise = new Promise<void>((resolve) => (release = resolve))
  return {
    wait: () => promise,
    open: () => {
      release()
      promise = new Promise<void>((resolve) => (release = resolve))
    },
  }
}

describe('fanOut', () => {
  for (const bufferChunks of [1, 3]) {
    it(`the slowest consumer paces the source: at most ${bufferChunks} chunk(s) read ahead of it`, async () => {
      const { state, source } = countingSource(8)
      const fan = fanOut(source, 2, { bufferChunks })
      const [fast, slow] = fan.consumers as [AsyncIterable<Uint8Array>, AsyncIterable<Uint8Array>]
      const fastDone = collect(fast)
      const slowGate = gate()
      const slowTaken: number[] = []
      const slowDone = (async () => {
        for await (const chunk of slow) {
          slowTaken.push(chunk[0] ?? -1)
          await slowGate.wait()
        }
      })()
      for (let step = 1; step <= 8; step++) {
        await settle()
        // The slow consumer holds chunk step-1; the fast one waits: the source is `bufferChunks` ahead.
        assert.equal(slowTaken.length, step)
        assert.equal(state.pulled, Math.min(8, step + bufferChunks))
        slowGate.open()
      }
      assert.deepEqual(await fastDone, [0, 1, 2, 3, 4, 5, 6, 7])
      await slowDone
      assert.deepEqual(slowTaken, [0, 1, 2, 3, 4, 5, 6, 7])
      assert.equal(state.finished, true)
    })
  }

  it('a single consumer: the next chunk is read while it works on this one, no further', async () => {
    const { state, source } = countingSource(4)
    const fan = fanOut(source, 1)
    const gate1 = gate()
    const taken: number[] = []
    const done = (async () => {
      for await (const chunk of fan.consumers[0] as AsyncIterable<Uint8Array>) {
        taken.push(chunk[0] ?? -1)
        await gate1.wait()
      }
    })()
    for (let step = 1; step <= 4; step++) {
      await settle()
      assert.equal(taken.length, step)
      assert.equal(state.pulled, Math.min(4, step + 1), `holding chunk ${step - 1}`)
      gate1.open()
    }
    await done
    assert.deepEqual(taken, [0, 1, 2, 3])
  })

  it('a failing consumer is dropped with its error reported; the others finish', async () => {
    const { state, source } = countingSource(6)
    const drops: [number, unknown][] = []
    const fan = fanOut(source, 3, { onDrop: (index, error) => drops.push([index, error]) })
    const broken = new Error('target 1: disk full')
    const outcomes = await runConsumers(fan, async (consumer, index) => {
      const seen: number[] = []
      for await (const chunk of consumer) {
        seen.push(chunk[0] ?? -1)
        if (index === 1 && seen.length === 2) throw broken
      }
      return seen
    })
    assert.deepEqual(outcomes[0], { ok: true, value: [0, 1, 2, 3, 4, 5] })
    assert.deepEqual(outcomes[1], { ok: false, error: broken })
    assert.deepEqual(outcomes[2], { ok: true, value: [0, 1, 2, 3, 4, 5] })
    assert.deepEqual(drops, [[1, broken]])
    assert.equal(fan.causes.get(1), broken)
    assert.equal(state.finished, true)
  })

  it('a consumer that stops iterating (break) no longer paces the others and is not reported', async () => {
    const { source } = countingSource(5)
    const drops: number[] = []
    const fan = fanOut(source, 2, { onDrop: (index) => drops.push(index) })
    const [a, b] = fan.consumers as [AsyncIterable<Uint8Array>, AsyncIterable<Uint8Array>]
    const early = (async () => {
      for await (const chunk of b) if (chunk[0] === 1) break
    })()
    assert.deepEqual(await collect(a), [0, 1, 2, 3, 4])
    await early
    assert.deepEqual(drops, [])
    assert.equal(fan.liveCount, 1)
  })

  it('every consumer failing closes the source and returns every cause', async () => {
    const { state, source } = countingSource(100)
    const closes: unknown[] = []
    const fan = fanOut(source, 2, { close: (reason) => closes.push(reason) })
    const causes = [new Error('remote A is gone'), new Error('remote B refused')]
    const failure = await runConsumers(fan, async (consumer, index) => {
      let seen = 0
      for await (const _ of consumer) if (++seen === 2 + index) throw causes[index] ?? new Error('?')
    }).then(
      () => assert.fail('runConsumers resolved'),
      (error: unknown) => error,
    )
    assert.ok(failure instanceof FanOutError, 'failure instanceof FanOutError')
    assert.equal(failure.code, 'FAN_OUT_ALL_FAILED')
    assert.deepEqual(failure.errors, causes)
    assert.match(failure.message, /remote A is gone; remote B refused/)
    await settle()
    assert.equal(closes.length, 1)
    // The close happens when the last consumer leaves its loop, before its owner reports why:
    // the reason carries the causes known then; runConsumers' error carries all of them.
    assert.ok(closes[0] instanceof FanOutError, 'closes[0] instanceof FanOutError')
    assert.equal(closes[0].code, 'FAN_OUT_ALL_FAILED')
    assert.equal(state.closed, true, 'the source generator was returned')
    assert.ok(state.pulled < 10, `read ${state.pulled} chunks`)
  })

  it('a source error reaches every consumer; runConsumers reports it once', async () => {
    const { source } = countingSource(10, 3)
    const fan = fanOut(source, 2)
    const failure = await runConsumers(fan, (consumer) => collect(consumer)).then(
      () => assert.fail('resolved'),
      (error: unknown) => error,
    )
    assert.ok(failure instanceof FanOutError, 'failure instanceof FanOutError')
    assert.equal(failure.errors.length, 1)
    assert.match((failure.errors[0] as Error).message, /source broke at chunk 3/)
  })

  it('a consumer dropped by its owner before reading does not block the others', async () => {
    const { source } = countingSource(4)
    const drops: unknown[] = []
    const fan = fanOut(source, 2, { onDrop: (_i, error) => drops.push(error) })
    const why = new Error('target failed on an earlier disk')
    fan.drop(1, why)
    fan.drop(1, new Error('reported twice'))
    assert.deepEqual(await collect(fan.consumers[0] ?? assert.fail()), [0, 1, 2, 3])
    assert.deepEqual(drops, [why])
    await assert.rejects(collect(fan.consumers[1] ?? assert.fail()), { code: 'FAN_OUT_CONSUMER_DROPPED' })
  })

  it('refuses a bad count, a bad buffer, an unknown consumer and a second iteration', async () => {
    const { source } = countingSource(1)
    assert.throws(() => fanOut(source, 0), { code: 'FAN_OUT_BAD_ARGUMENT' })
    assert.throws(() => fanOut(source, 1, { bufferChunks: 0 }), { code: 'FAN_OUT_BAD_ARGUMENT' })
    const fan = fanOut(source, 1)
    assert.throws(
      () => {
        fan.drop(1)
      },
      { code: 'FAN_OUT_BAD_ARGUMENT' },
    )
    const consumer = fan.consumers[0] ?? assert.fail()
    assert.deepEqual(await collect(consumer), [0])
    assert.throws(() => consumer[Symbol.asyncIterator](), { code: 'FAN_OUT_ITERATED_TWICE' })
  })
})

describe('fanOutBlockSource', () => {
  it('gives every consumer the same metadata up front and the same blocks; the source is read once', async () => {
    let calls = 0
    const blocks: DiskBlock[] = [0, 2, 5].map((index) => ({ index, data: new Uint8Array(16).fill(index) }))
    const source: BlockSource = {
      virtualSize: 96,
      blockSize: 16,
      blockIndexes: [0, 2, 5],
      async *blocks() {
        calls += 1
        for (const block of blocks) {
          await Promise.resolve()
          yield block
        }
      },
    }
    const fan = fanOutBlockSource(source, 3)
    assert.equal(calls, 0, 'nothing read before a consumer asks')
    for (const view of fan.consumers) {
      assert.equal(view.virtualSize, 96)
      assert.equal(view.blockSize, 16)
      assert.deepEqual(view.blockIndexes, [0, 2, 5])
    }
    const outcomes = await runConsumers(fan, async (view) => {
      const seen: DiskBlock[] = []
      for await (const block of view.blocks()) seen.push(block)
      return seen
    })
    for (const outcome of outcomes) assert.deepEqual(outcome, { ok: true, value: blocks })
    assert.equal(calls, 1)
  })
})
