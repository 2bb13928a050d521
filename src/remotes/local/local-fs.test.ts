import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { publishFile, WRITE_BEHIND_BYTES, WriteBehind } from './local-fs.ts'

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

describe('publishFile', () => {
  it('writes chunks of every size in order, even from a source that reuses its buffer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'local-fs-'))
    try {
      // Sizes around the 1 MiB gathering buffer: small ones gathered, big ones written as they are.
      const sizes = [1, 65_536, 65_536, 1_048_575, 2, 1_048_576, 3 * 1_048_576 + 7, 100, 65_536]
      const expected = createHash('sha256')
      const scratch = Buffer.alloc(4 * 1_048_576)
      async function* reusing(): AsyncGenerator<Uint8Array> {
        for (const [i, size] of sizes.entries()) {
          await new Promise(setImmediate)
          const chunk = scratch.subarray(0, size)
          chunk.fill(i + 1)
          chunk[0] = size & 0xff
          expected.update(chunk)
          yield chunk
        }
        scratch.fill(0xee) // what a reusing source does once it is asked for more
      }
      const target = join(dir, 'file.bin')
      await publishFile(target, reusing(), { ifAbsent: true })
      const written = await readFile(target)
      assert.equal(
        written.byteLength,
        sizes.reduce((a, b) => a + b, 0),
        'every byte written',
      )
      assert.equal(
        createHash('sha256').update(written).digest('hex'),
        expected.digest('hex'),
        'bytes in order',
      )
      assert.deepEqual(await readdir(dir), ['file.bin'], 'no temp file left')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
