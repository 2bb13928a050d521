import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { collect } from '../formats/vhd/testing/random-disk.ts'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { writeFullBackup } from './backup-writer.ts'
import { xvaPath } from './layout.ts'
import { listVmBackups } from './listing.ts'
import { readFullBackupXva } from './read-backup.ts'
import { fullMetadata, IDS } from './testing/sample-metadata.ts'

const t = Date.UTC(2026, 10, 27)

async function stored() {
  const remote = new MemoryRemote()
  const { jobId, scheduleId, vm, vmSnapshot } = fullMetadata(t)
  async function* xva() {
    for (let i = 0; i < 4; i++) yield await Promise.resolve(new Uint8Array(100_000).fill(i))
  }
  await writeFullBackup(remote, {
    metadata: { jobId, scheduleId, vm, vmSnapshot },
    timestampMs: t,
    xva: xva(),
  })
  const [backup] = (await listVmBackups(remote, IDS.vm)).backups
  assert.ok(backup, 'backup')
  return { remote, backup }
}

describe('readFullBackupXva', () => {
  it('streams the XVA verified against its checksum', async () => {
    const { remote, backup } = await stored()
    assert.equal((await collect(await readFullBackupXva(remote, backup))).length, 400_000)
  })

  it('fails at the end of a corrupted XVA, naming the file and both digests', async () => {
    const { remote, backup } = await stored()
    const file = remote.files.get(xvaPath(IDS.vm, t))
    assert.ok(file, 'file')
    file.data.writeUInt8(0xff, 250_000)
    await assert.rejects(collect(await readFullBackupXva(remote, backup)), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'CHECKSUM_MISMATCH')
      assert.match(e.message, /20261127T000000Z\.xva: expected md5 [0-9a-f]{32}, got [0-9a-f]{32}/)
      return true
    })
  })

  it('refuses an XVA without checksum unless told to accept it', async () => {
    const { remote, backup } = await stored()
    const { checksumFile: _, ...unverified } = backup
    await assert.rejects(readFullBackupXva(remote, unverified), /no checksum file/)
    assert.equal(
      (await collect(await readFullBackupXva(remote, unverified, { allowUnverified: true }))).length,
      400_000,
    )
  })
})
