// openRemoteFile with keepOpen on a local remote: the file held open (Remote.openReader) reads the
// same bytes as the ranged-read path, at any offset and length, clamped at the end; it refuses what
// the local remote refuses (a symlink out of the root, a directory, a missing file); close releases
// it. Without keepOpen, or on a remote without openReader, nothing is held.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openLocalRemote } from '../remotes/local/local-remote.ts'
import type { Remote } from '../remotes/remote.ts'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { openRemoteFile } from './remote-file.ts'

async function openFds(): Promise<number> {
  return (await readdir('/proc/self/fd')).length
}

describe('openRemoteFile({ keepOpen }) on a local remote', () => {
  let dir: string
  let remote: Remote
  const bytes = randomBytes(3 * 1024 * 1024 + 17)
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'remote-file-held-'))
    await mkdir(join(dir, 'root', 'sub'), { recursive: true })
    await writeFile(join(dir, 'root', 'sub', 'disk.vhd'), bytes)
    await writeFile(join(dir, 'outside.vhd'), 'canary: must never be read through the remote')
    await symlink(join(dir, 'outside.vhd'), join(dir, 'root', 'escape.vhd'))
    remote = await openLocalRemote(join(dir, 'root'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('reads what the ranged path reads, clamped at the end; readInto fills the caller buffer', async () => {
    const held = await openRemoteFile(remote, 'sub/disk.vhd', { keepOpen: true })
    const ranged = await openRemoteFile(remote, 'sub/disk.vhd')
    try {
      assert.equal(await held.size(), bytes.length)
      for (const [offset, length] of [
        [0, 512],
        [1024 * 1024 - 3, 2 * 1024 * 1024],
        [bytes.length - 10, 100],
        [bytes.length, 10],
        [bytes.length + 5, 10],
      ] as const) {
        assert.deepEqual(
          await held.read(offset, length),
          await ranged.read(offset, length),
          `${offset}+${length}`,
        )
      }
      const target = new Uint8Array(2 * 1024 * 1024)
      const got = await held.readInto?.(bytes.length - 1000, target)
      assert.equal(got, 1000)
      assert.deepEqual(target.subarray(0, 1000), new Uint8Array(bytes.subarray(bytes.length - 1000)))
    } finally {
      await held.close?.()
    }
  })

  it('holds one descriptor until closed, none without keepOpen', async () => {
    const before = await openFds()
    const held = await openRemoteFile(remote, 'sub/disk.vhd', { keepOpen: true })
    assert.equal(await openFds(), before + 1, 'held open')
    await held.close?.()
    assert.equal(await openFds(), before, 'released by close')
    const plain = await openRemoteFile(remote, 'sub/disk.vhd')
    await plain.read(2 * 1024 * 1024, 4096)
    assert.equal(await openFds(), before, 'the ranged path holds nothing')
  })

  it('refuses a symlink out of the root, a directory and a missing file, as read does', async () => {
    for (const path of ['escape.vhd', 'sub', 'sub/missing.vhd']) {
      const expected = await remote.read(path).then(
        () => 'no error',
        (error: unknown) => String((error as { code?: unknown }).code),
      )
      assert.notEqual(expected, 'no error', `${path}: read refuses it`)
      await assert.rejects(openRemoteFile(remote, path, { keepOpen: true }), (error: { code?: string }) => {
        assert.equal(String(error.code), expected, path)
        return true
      })
    }
  })

  it('falls back to ranged reads on a remote without openReader', async () => {
    const memory = new MemoryRemote()
    await memory.write('a.vhd', new Uint8Array(bytes))
    const file = await openRemoteFile(memory, 'a.vhd', { keepOpen: true })
    assert.deepEqual(await file.read(5, 10), new Uint8Array(bytes.subarray(5, 15)))
  })
})
