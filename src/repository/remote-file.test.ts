import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { BufferFile } from '../formats/vhd/random-access-file.ts'
import { writeVhdStream } from '../formats/vhd/conversions.ts'
import { planVhdStream } from '../formats/vhd/vhd-stream-writer.ts'
import { VhdFile } from '../formats/vhd/vhd-file.ts'
import type { ReadOptions, Remote } from '../remotes/remote.ts'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { HEAD_BYTES, openRemoteFile } from './remote-file.ts'

/** `remote` with its reads counted, the next `failures` of them failing. */
function counting(remote: Remote, state: { reads: number; failures: number }): Remote {
  return Object.create(remote, {
    read: {
      value: (path: string, options?: ReadOptions) => {
        state.reads++
        if (state.failures > 0) {
          state.failures--
          return Promise.reject(new Error('read failed (injected)'))
        }
        return remote.read(path, options)
      },
    },
  }) as Remote
}

describe('openRemoteFile', () => {
  it('opens a VHD with two reads: the head (footer copy, header, BAT) and the footer', async () => {
    // Three 2 MiB blocks stored: the footer lies far beyond the head.
    const file = new BufferFile()
    const blocks = [0, 7, 30]
    await writeVhdStream(
      planVhdStream(
        {
          virtualSize: 64 * 2 ** 20,
          blockSize: 2 * 2 ** 20,
          blockIndexes: blocks,
          blocks: async function* () {
            for (const index of blocks) yield { index, data: await Promise.resolve(randomBytes(2 * 2 ** 20)) }
          },
        },
        { uniqueId: '5b1d9c7e-0a4f-4e2b-9c3d-7e8f9a0b1c2d', timestampMs: Date.UTC(2026, 0, 1) },
      ),
      file,
    )
    const remote = new MemoryRemote()
    await remote.write('d/disk.vhd', file.bytes)
    assert.ok(file.bytes.length > 3 * HEAD_BYTES, `a VHD bigger than its head: ${file.bytes.length} bytes`)
    const state = { reads: 0, failures: 0 }
    const disk = await VhdFile.open(await openRemoteFile(counting(remote, state), 'd/disk.vhd'))
    assert.equal(disk.uniqueId, '5b1d9c7e-0a4f-4e2b-9c3d-7e8f9a0b1c2d', 'the VHD read back')
    assert.equal(state.reads, 2, 'reads of the remote')
  })

  it('serves every range like the file, across the head boundary, as copies', async () => {
    const bytes = randomBytes(HEAD_BYTES + 5000)
    const remote = new MemoryRemote()
    await remote.write('f.bin', bytes)
    const state = { reads: 0, failures: 0 }
    const file = await openRemoteFile(counting(remote, state), 'f.bin')
    const ranges: [number, number][] = [
      [0, 512],
      [HEAD_BYTES - 10, 10],
      [HEAD_BYTES - 10, 20],
      [HEAD_BYTES, 100],
      [bytes.length - 3, 100],
      [bytes.length + 10, 5],
      [100, 0],
    ]
    for (const [offset, length] of ranges) {
      const got = await file.read(offset, length)
      const want = bytes.subarray(Math.min(offset, bytes.length), Math.min(bytes.length, offset + length))
      assert.deepEqual(Buffer.from(got), Buffer.from(want), `read(${offset}, ${length})`)
    }
    const first = await file.read(0, 16)
    first.fill(0)
    assert.deepEqual(
      Buffer.from(await file.read(0, 16)),
      bytes.subarray(0, 16),
      'a change to a result is not seen',
    )
    assert.equal(state.reads, 4, 'the head once, then the 3 ranges beyond it')
  })

  it('reads the head again after a failed read of it', async () => {
    const remote = new MemoryRemote()
    await remote.write('f.bin', randomBytes(1000))
    const state = { reads: 0, failures: 1 }
    const file = await openRemoteFile(counting(remote, state), 'f.bin')
    await assert.rejects(file.read(0, 10), /injected/)
    assert.equal((await file.read(0, 10)).length, 10, 'read again')
  })
})
