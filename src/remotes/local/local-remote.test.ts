import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { describeRemoteConformance, patternBytes, rejectsWith } from '../testing/conformance.ts'
import { listed } from '../testing/conformance-list.ts'
import { openLocalRemote } from './local-remote.ts'

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'local-remote-'))
}

describeRemoteConformance('local', async (clock) => {
  const dir = await tempDir()
  return {
    remote: await openLocalRemote(dir, { clock }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  }
})

describe('LocalRemote', () => {
  it('never lets a symlink lead outside the root, but follows links that stay inside', async () => {
    const base = await tempDir()
    try {
      const root = join(base, 'root')
      const outside = join(base, 'outside')
      await mkdir(join(root, 'inner'), { recursive: true })
      await mkdir(outside)
      await writeFile(join(outside, 'secret'), 'secret')
      await writeFile(join(root, 'inner', 'real.txt'), 'inside')
      await symlink(outside, join(root, 'escape'))
      await symlink(join(outside, 'secret'), join(root, 'secret-link'))
      await symlink(join(root, 'inner'), join(root, 'alias'))
      const remote = await openLocalRemote(root)
      await rejectsWith(remote.read('escape/secret'), 'INVALID_PATH')
      await rejectsWith(remote.read('secret-link'), 'INVALID_PATH')
      await rejectsWith(remote.write('escape/new', Buffer.from('x')), 'INVALID_PATH')
      await rejectsWith(remote.write('escape/deeper/new', Buffer.from('x')), 'INVALID_PATH')
      await rejectsWith(remote.delete('escape/secret'), 'INVALID_PATH')
      await rejectsWith(remote.rename('inner/real.txt', 'escape/stolen'), 'INVALID_PATH')
      await rejectsWith(remote.lock('escape/vm', { ttlMs: 1000 }), 'INVALID_PATH')
      await rejectsWith(listed(remote, 'escape'), 'INVALID_PATH')
      assert.equal(await readFile(join(outside, 'secret'), 'utf8'), 'secret')
      assert.deepEqual(await readdir(outside), ['secret'])
      assert.equal((await remote.stat('alias/real.txt')).sizeBytes, 6)
      assert.deepEqual(await listed(remote, ''), ['dir:alias', 'dir:inner'])
    } finally {
      await rm(base, { recursive: true, force: true })
    }
  })

  it('writes through a hidden temp name in the same directory and leaves no temp file behind', async () => {
    const root = await tempDir()
    try {
      const remote = await openLocalRemote(root)
      const seen: string[][] = []
      async function* source() {
        for (let i = 0; i < 3; i++) {
          seen.push(await readdir(join(root, 'd')).catch(() => []))
          yield patternBytes(1000, i)
        }
      }
      await remote.write('d/file.bin', source())
      // While the source was being read, only `.file.bin.<random>.tmp` existed, never file.bin.
      assert.ok(
        seen
          .slice(1)
          .every((names) => names.length === 1 && /^\.file\.bin\.[0-9a-f]{12}\.tmp$/.test(names[0] ?? '')),
        JSON.stringify(seen),
      )
      assert.deepEqual(await readdir(join(root, 'd')), ['file.bin'])
      await assert.rejects(remote.write('d/file.bin', patternBytes(10), { sizeBytes: 11 }))
      assert.deepEqual(await readdir(join(root, 'd')), ['file.bin'], 'failed write removed its temp file')
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('refuses to open a missing root and reports free space of the filesystem', async () => {
    const root = await tempDir()
    try {
      await rejectsWith(openLocalRemote(join(root, 'missing')), 'NOT_FOUND')
      const info = await (await openLocalRemote(root)).info()
      assert.ok(
        (info.totalBytes ?? 0) > 0 &&
          (info.freeBytes ?? -1) >= 0 &&
          (info.freeBytes ?? 0) <= (info.totalBytes ?? 0),
        '(info.totalBytes ?? 0) > 0 && (info.freeBytes ?? -1) >= 0 && (info.freeBytes ?? 0) <= (info.total...',
      )
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it('treats a lock directory whose owner file is missing as held until the ttl passes its mtime', async () => {
    const root = await tempDir()
    try {
      await mkdir(join(root, 'vm.lock'))
      const remote = await openLocalRemote(root)
      await rejectsWith(remote.lock('vm', { ttlMs: 60_000 }), 'LOCKED')
      const stale = await openLocalRemote(root, {
        clock: { now: () => Date.now() + 120_000, sleep: () => Promise.resolve() },
      })
      const handle = await stale.lock('vm', { ttlMs: 60_000 })
      assert.match(await readFile(join(root, 'vm.lock', 'owner.json'), 'utf8'), new RegExp(handle.owner))
      await handle.release()
      assert.deepEqual(await readdir(root), [])
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
