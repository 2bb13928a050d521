import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import { FaultRemote } from './testing/fault-remote.ts'
import { MemoryRemote } from './testing/memory-remote.ts'
import { testRemote } from './remote-test.ts'
import { wrapRemote } from './wrappers/wrap-remote.ts'

describe('testRemote', () => {
  it('writes, reads back, verifies and deletes, timing with the injected clock', async () => {
    const inner = new MemoryRemote()
    const clock = createFixedClock()
    const timed = wrapRemote(inner, {
      async write(path, source, options) {
        clock.advance(500)
        await inner.write(path, source, options)
      },
      async read(path, options) {
        clock.advance(250)
        return inner.read(path, options)
      },
    })
    const result = await testRemote(timed, { sizeBytes: 3 << 20, clock })
    assert.ok(result.success, 'result.success')
    assert.equal(result.writeMs, 500)
    assert.equal(result.writeBytesPerSec, 6 << 20)
    assert.equal(result.readBytesPerSec, 12 << 20)
    assert.deepEqual(result.info, { usedBytes: 0 })
    assert.equal(inner.files.size, 0)
  })

  it('names the failing step and removes the test file', async () => {
    const inner = new MemoryRemote()
    const corrupting = wrapRemote(inner, {
      async read(path, options) {
        const stream = await inner.read(path, options)
        const data = Buffer.concat(await stream.toArray())
        if (data.length > 0) data[0] = (data[0] ?? 0) ^ 1
        return Readable.from([data])
      },
    })
    const result = await testRemote(corrupting, { sizeBytes: 1000, clock: createFixedClock() })
    assert.ok(!result.success, '!result.success')
    assert.equal(result.step, 'verify')
    assert.match(JSON.stringify(result.error.message), /sha256/)
    assert.equal(inner.files.size, 0, 'the test file is removed after a failure')

    const faulty = new FaultRemote(new MemoryRemote(), {
      failOperation: { operation: 'write', nth: 1, code: 'ACCESS_DENIED' },
    })
    const denied = await testRemote(faulty, { sizeBytes: 10, clock: createFixedClock() })
    assert.ok(!denied.success, '!denied.success')
    assert.deepEqual([denied.step, denied.error.code], ['write', 'ACCESS_DENIED'])
  })
})
