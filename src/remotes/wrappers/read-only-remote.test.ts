import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { readAll } from '../byte-streams.ts'
import { rejectsWith } from '../testing/conformance.ts'
import { listed } from '../testing/conformance-list.ts'
import { MemoryRemote } from '../testing/memory-remote.ts'
import { readOnlyRemote } from './read-only-remote.ts'

describe('readOnlyRemote', () => {
  it('passes reads through and refuses every mutation with READ_ONLY', async () => {
    const inner = new MemoryRemote()
    await inner.write('d/f', Buffer.from('data'))
    const remote = readOnlyRemote(inner)
    assert.equal(remote.capabilities.readOnly, true)
    assert.equal((await readAll(remote, 'd/f')).toString(), 'data')
    assert.equal((await remote.stat('d/f')).sizeBytes, 4)
    assert.deepEqual(await listed(remote, 'd'), ['file:d/f:4'])
    await rejectsWith(remote.write('d/g', Buffer.from('x')), 'READ_ONLY')
    await rejectsWith(remote.delete('d/f'), 'READ_ONLY')
    await rejectsWith(remote.deleteMany(['d/f']), 'READ_ONLY')
    await rejectsWith(remote.rename('d/f', 'd/h'), 'READ_ONLY')
    await rejectsWith(remote.lock('d', { ttlMs: 1000 }), 'READ_ONLY')
    assert.deepEqual([...inner.files.keys()], ['d/f'])
  })
})
