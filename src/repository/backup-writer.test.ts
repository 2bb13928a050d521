import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { MD5SUM, requireTool } from '../shared/testing/oracles.ts'
import { writeFullBackup } from './backup-writer.ts'
import { parseChecksumText } from './checksum-file.ts'
import { metadataPath, xvaPath } from './layout.ts'
import { listVmBackups } from './listing.ts'
import { fullMetadata, IDS } from './testing/sample-metadata.ts'

const t = Date.UTC(2026, 10, 27, 3, 0, 0)
const base = (() => {
  const { jobId, scheduleId, vm, vmSnapshot } = fullMetadata(t)
  return { jobId, scheduleId, vm, vmSnapshot }
})()

async function* bytes(parts: number, failAt?: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < parts; i++) {
    if (i === failAt) throw new Error('XAPI closed the export stream')
    yield await Promise.resolve(new Uint8Array(64 * 1024).fill(i + 1))
  }
}

describe('writeFullBackup', () => {
  it('writes data, checksum, then metadata last; the backup lists as complete', async () => {
    const remote = new MemoryRemote()
    const order: string[] = []
    const write = remote.write.bind(remote)
    remote.write = (path, source, options) => {
      order.push(path.slice(path.lastIndexOf('/') + 1))
      return write(path, source, options)
    }
    const written = await writeFullBackup(remote, { metadata: base, timestampMs: t, xva: bytes(10) })
    assert.deepEqual(order, [
      '20261127T030000Z.xva',
      '20261127T030000Z.xva.checksum',
      '20261127T030000Z.json',
    ])
    assert.equal(written.sizeBytes, 10 * 64 * 1024)
    const { backups } = await listVmBackups(remote, IDS.vm)
    assert.equal(backups.length, 1)
    assert.deepEqual(backups[0]?.missingFiles, [])
    assert.equal(backups[0].metadata.size, written.sizeBytes)
    assert.equal(backups[0].metadata.mode === 'full' && backups[0].metadata.xva, './20261127T030000Z.xva')
  })

  it("writes XO's checksum form, verifiable by md5sum", async (t2) => {
    const remote = new MemoryRemote()
    await writeFullBackup(remote, { metadata: base, timestampMs: t, xva: bytes(3) })
    const text = remote.files.get(`${xvaPath(IDS.vm, t)}.checksum`)?.data.toString() ?? ''
    const { algorithm, hex } = parseChecksumText(text, 'x')
    assert.equal(algorithm, 'md5')
    assert.match(text, /^\$1\$\$[0-9a-f]{32}$/)
    if (!requireTool(t2, MD5SUM)) return
    const dir = await mkdtemp(join(tmpdir(), 'md5-'))
    try {
      await writeFile(join(dir, 'x.xva'), remote.files.get(xvaPath(IDS.vm, t))?.data ?? Buffer.alloc(0))
      assert.equal(spawnSync('md5sum', [join(dir, 'x.xva')], { encoding: 'utf8' }).stdout.split(' ')[0], hex)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('leaves no metadata when the export stream fails: nothing is listed', async () => {
    const remote = new MemoryRemote()
    await assert.rejects(
      writeFullBackup(remote, { metadata: base, timestampMs: t, xva: bytes(10, 5) }),
      /closed the export stream/,
    )
    assert.equal(remote.files.has(metadataPath(IDS.vm, t)), false)
    assert.equal(
      remote.files.has(xvaPath(IDS.vm, t)),
      false,
      'the remote publishes atomically: no partial XVA',
    )
    assert.deepEqual((await listVmBackups(remote, IDS.vm)).backups, [])
  })

  it('refuses a second backup with the same timestamp and keeps the first intact', async () => {
    const remote = new MemoryRemote()
    await writeFullBackup(remote, { metadata: base, timestampMs: t, xva: bytes(2) })
    const before = Buffer.from(remote.files.get(xvaPath(IDS.vm, t))?.data ?? Buffer.alloc(0))
    await assert.rejects(
      writeFullBackup(remote, { metadata: base, timestampMs: t, xva: bytes(4) }),
      (e: Error & { code?: string }) => e.code === 'BACKUP_EXISTS',
    )
    assert.deepEqual(remote.files.get(xvaPath(IDS.vm, t))?.data, before)
  })

  it('rejects a declared size that does not match the stream, publishing nothing', async () => {
    const remote = new MemoryRemote()
    await assert.rejects(
      writeFullBackup(remote, { metadata: base, timestampMs: t, xva: bytes(2), sizeBytes: 5 }),
    )
    assert.equal(remote.files.size, 0)
  })
})
