import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeRemoteConformance, rejectsWith } from '../testing/conformance.ts'
import { MemoryRemote } from '../testing/memory-remote.ts'
import { withConcurrencyLimit } from './concurrency-remote.ts'

describeRemoteConformance('withConcurrencyLimit(memory, 3)', (clock) =>
  Promise.resolve({ remote: withConcurrencyLimit(new MemoryRemote({ clock }), 3) }),
)

describe('withConcurrencyLimit', () => {
  it('runs at most `limit` operations at once and releases slots on failure', async () => {
    const remote = withConcurrencyLimit(new MemoryRemote(), 2)
    let peak = 0
    const gates: (() => void)[] = []
    async function* gated(): AsyncGenerator<Uint8Array> {
      peak = Math.max(peak, remote.active())
      await new Promise<void>((resolve) => gates.push(resolve))
      yield Buffer.from('x')
    }
    const writes = Array.from({ length: 5 }, (_, i) => remote.write(`f${i}`, gated()))
    for (let released = 0; released < 5; released++) {
      while (gates.length === 0) await new Promise((r) => setImmediate(r))
      assert.ok(remote.active() <= 2, 'remote.active() <= 2')
      gates.shift()?.()
    }
    await Promise.all(writes)
    assert.equal(peak, 2)
    await rejectsWith(remote.stat('missing'), 'NOT_FOUND')
    assert.equal(remote.active(), 0)
  })

  it('holds a slot while a read stream is open and frees it when the stream is consumed or destroyed', async () => {
    const remote = withConcurrencyLimit(new MemoryRemote(), 1)
    await remote.write('f', Buffer.from('data'))
    const stream = await remote.read('f')
    assert.equal(remote.active(), 1)
    let statted = false
    const stat = remote.stat('f').then(() => (statted = true))
    await new Promise((r) => setImmediate(r))
    assert.equal(statted, false, 'stat waits for the open stream')
    stream.destroy()
    await stat
    const second = await remote.read('f')
    for await (const _ of second) {
      // consume
    }
    await new Promise((r) => setImmediate(r))
    assert.equal(remote.active(), 0)
  })
})
