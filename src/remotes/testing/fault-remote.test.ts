import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readAll } from '../byte-streams.ts'
import { describeRemoteConformance, patternBytes, rejectsWith } from './conformance.ts'
import { listed } from './conformance-list.ts'
import { FaultRemote } from './fault-remote.ts'
import { MemoryRemote } from './memory-remote.ts'

describeRemoteConformance('fault-injecting (pass-through)', (clock) =>
  Promise.resolve({ remote: new FaultRemote(new MemoryRemote({ clock })) }),
)

describe('FaultRemote', () => {
  it('fails the nth call of an operation, `times` times, with the asked code', async () => {
    const remote = new FaultRemote(new MemoryRemote(), {
      failOperation: { operation: 'stat', nth: 2, times: 2, code: 'IO_ERROR' },
    })
    await remote.write('f', Buffer.from('x'))
    await remote.stat('f')
    await rejectsWith(remote.stat('f'), 'IO_ERROR')
    await rejectsWith(remote.stat('f'), 'IO_ERROR')
    await remote.stat('f')
    assert.equal(remote.counts.get('stat'), 4)
    remote.setPlan({ failOperation: { nth: 2 } })
    await remote.stat('f')
    await rejectsWith(remote.write('g', Buffer.from('y')), 'UNAVAILABLE')
  })

  it('cuts a write after N bytes: nothing published on an atomic store, the prefix with publishPartial', async () => {
    const inner = new MemoryRemote()
    const remote = new FaultRemote(inner, { cutWriteAfterBytes: 1000 })
    const data = patternBytes(5000)
    await rejectsWith(remote.write('w', data), 'UNAVAILABLE')
    assert.equal(inner.files.has('w'), false)
    remote.setPlan({ cutWriteAfterBytes: 1000, publishPartial: true })
    await rejectsWith(remote.write('w', data), 'UNAVAILABLE')
    assert.ok(
      inner.files.get('w')?.data.equals(data.subarray(0, 1000)),
      "inner.files.get('w')?.data.equals(data.subarray(0, 1000))",
    )
  })

  it('makes rename a non-atomic copy + delete that can crash in between', async () => {
    const remote = new FaultRemote(new MemoryRemote(), { nonAtomicRename: true, crashAfterCopy: true })
    assert.equal(remote.capabilities.atomicRename, false)
    await remote.write('a', Buffer.from('data'))
    await rejectsWith(remote.rename('a', 'b'), 'UNAVAILABLE')
    assert.equal((await readAll(remote, 'a')).toString(), 'data')
    assert.equal((await readAll(remote, 'b')).toString(), 'data')
  })

  it('loses one page of a listing silently', async () => {
    const remote = new FaultRemote(new MemoryRemote(), { loseListingPage: { pageSize: 3, page: 1 } })
    for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) await remote.write(`d/${name}`, Buffer.from('x'))
    assert.deepEqual(await listed(remote, 'd'), ['file:d/a:1', 'file:d/b:1', 'file:d/c:1', 'file:d/g:1'])
  })

  it('cuts read streams with a connection reset', async () => {
    const remote = new FaultRemote(new MemoryRemote(), { cutReadAfterBytes: 10 })
    await remote.write('r', patternBytes(100))
    await assert.rejects(readAll(remote, 'r'), { code: 'ECONNRESET' })
  })
})
