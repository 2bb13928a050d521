import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../../shared/clock.ts'
import { readAll } from '../byte-streams.ts'
import { RemoteError } from '../remote-error.ts'
import { describeRemoteConformance, patternBytes, rejectsWith } from '../testing/conformance.ts'
import { listed } from '../testing/conformance-list.ts'
import { FaultRemote } from '../testing/fault-remote.ts'
import { MemoryRemote } from '../testing/memory-remote.ts'
import { withRetry } from './retry-remote.ts'
import { wrapRemote } from './wrap-remote.ts'

describeRemoteConformance('withRetry(memory)', (clock) =>
  Promise.resolve({ remote: withRetry(new MemoryRemote({ clock }), { clock }) }),
)

function setup() {
  const clock = createFixedClock()
  const faulty = new FaultRemote(new MemoryRemote({ clock }))
  const retries: number[] = []
  const remote = withRetry(faulty, { clock, tries: 4, onRetry: (_e, attempt) => retries.push(attempt) })
  return { clock, faulty, remote, retries }
}

describe('withRetry', () => {
  it('retries UNAVAILABLE with backoff and gives up after `tries`', async () => {
    const { clock, faulty, remote, retries } = setup()
    await remote.write('f', Buffer.from('x'))
    faulty.setPlan({ failOperation: { operation: 'stat', nth: 1, times: 3 } })
    assert.equal((await remote.stat('f')).sizeBytes, 1)
    assert.deepEqual(retries, [1, 2, 3])
    assert.ok(clock.sleptMs > 0, 'clock.sleptMs > 0')
    faulty.setPlan({ failOperation: { operation: 'stat', nth: 1, times: 4 } })
    await rejectsWith(remote.stat('f'), 'UNAVAILABLE')
    assert.equal(faulty.counts.get('stat'), 4)
  })

  it('does not retry errors that would repeat', async () => {
    const { faulty, remote } = setup()
    faulty.setPlan({ failOperation: { operation: 'delete', nth: 1, code: 'ACCESS_DENIED' } })
    await rejectsWith(remote.delete('f'), 'ACCESS_DENIED')
    await rejectsWith(remote.stat('missing'), 'NOT_FOUND')
    assert.equal(faulty.counts.get('delete'), 1)
    assert.equal(faulty.counts.get('stat'), 1)
  })

  it('reopens a failed read at the offset it reached, delivering every byte once', async () => {
    const { faulty, remote } = setup()
    const data = patternBytes(100)
    await remote.write('r', data)
    faulty.setPlan({ cutReadAfterBytes: 30 })
    assert.ok((await readAll(remote, 'r')).equals(data), "(await readAll(remote, 'r')).equals(data)")
    assert.equal(faulty.counts.get('read'), 4)
    faulty.setPlan({ cutReadAfterBytes: 30 })
    assert.ok(
      (await readAll(remote, 'r', { start: 10, end: 90 })).equals(data.subarray(10, 90)),
      "(await readAll(remote, 'r', { start: 10, end: 90 })).equals(data.subarray(10, 90))",
    )
    faulty.setPlan({ cutReadAfterBytes: 10 })
    await assert.rejects(
      readAll(remote, 'r'),
      (e: unknown) => e instanceof RemoteError && e.code === 'UNAVAILABLE',
    )
  })

  it('retries writes of bytes but never of a stream, which cannot be replayed', async () => {
    const { faulty, remote } = setup()
    faulty.setPlan({ failOperation: { operation: 'write', nth: 1 } })
    await remote.write('b', Buffer.from('bytes'))
    assert.equal(faulty.counts.get('write'), 2)
    faulty.setPlan({ failOperation: { operation: 'write', nth: 1 } })
    async function* stream() {
      yield await Promise.resolve(Buffer.from('stream'))
    }
    await rejectsWith(remote.write('s', stream()), 'UNAVAILABLE')
    assert.equal(faulty.counts.get('write'), 1)
  })

  it('treats a retried rename whose first attempt landed as done', async () => {
    const clock = createFixedClock()
    const inner = new MemoryRemote()
    let lostAnswers = 1
    const flaky = wrapRemote(inner, {
      async rename(from, to) {
        await inner.rename(from, to)
        if (lostAnswers-- > 0) throw new RemoteError('UNAVAILABLE', 'answer lost')
      },
    })
    await inner.write('a', Buffer.from('x'))
    await withRetry(flaky, { clock }).rename('a', 'b')
    assert.deepEqual([...inner.files.keys()], ['b'])
    await rejectsWith(withRetry(flaky, { clock }).rename('a', 'c'), 'NOT_FOUND')
  })

  it('retries a listing that fails before its first entry', async () => {
    const { faulty, remote } = setup()
    await remote.write('d/x', Buffer.from('x'))
    faulty.setPlan({ failOperation: { operation: 'list', nth: 1 } })
    assert.deepEqual(await listed(remote, 'd'), ['file:d/x:1'])
    assert.equal(faulty.counts.get('list'), 2)
  })
})
