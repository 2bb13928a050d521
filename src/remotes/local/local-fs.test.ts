import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { WRITE_BEHIND_BYTES, WriteBehind } from './local-fs.ts'

/** A handle whose datasync calls are counted and ended by the test. */
function fakeHandle() {
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = []
  return {
    pending,
    calls: () => pending.length,
    datasync: () =>
      new Promise<void>((resolve, reject) => {
        pending.push({ resolve, reject })
      }),
  }
}

describe('WriteBehind', () => {
  it('flushes once per WRITE_BEHIND_BYTES written, never two at a time', async () => {
    const handle = fakeHandle()
    const writeBehind = new WriteBehind(handle)
    writeBehind.wrote(WRITE_BEHIND_BYTES - 1)
    assert.equal(handle.calls(), 0, 'no flush before the threshold')
    writeBehind.wrote(1)
    assert.equal(handle.calls(), 1, 'one flush at the threshold')
    writeBehind.wrote(3 * WRITE_BEHIND_BYTES)
    assert.equal(handle.calls(), 1, 'no second flush while one runs')
    handle.pending[0]?.resolve()
    await writeBehind.settle()
    writeBehind.wrote(WRITE_BEHIND_BYTES)
    assert.equal(handle.calls(), 2, 'the next flush once the first ended')
    handle.pending[1]?.resolve()
    await writeBehind.settle()
  })

  it('rethrows a failed flush on the next write and on settle', async () => {
    const handle = fakeHandle()
    const writeBehind = new WriteBehind(handle)
    writeBehind.wrote(WRITE_BEHIND_BYTES)
    handle.pending[0]?.reject(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }))
    await assert.rejects(writeBehind.settle(), /EIO/)
    assert.throws(() => {
      writeBehind.wrote(1)
    }, /EIO/)
  })
})
