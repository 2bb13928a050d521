import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chainToRaw } from '../../src/formats/vhd/conversions.ts'
import { assertSameBytes, collect } from '../../src/formats/vhd/testing/random-disk.ts'
import { VhdChain } from '../../src/formats/vhd/vhd-chain.ts'
import { openXva } from '../../src/formats/xva/xva-reader.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { checkVmBackups } from '../../src/repository/check.ts'
import { parseChecksumText } from '../../src/repository/checksum-file.ts'
import { listBackupVms, listVmBackups } from '../../src/repository/listing.ts'
import { openRemoteFile } from '../../src/repository/remote-file.ts'

// A repository in XO's layout written by hand, with a VHD from qemu-img and an XVA from GNU tar
// (test/fixtures/xo-repository/README.md): we must read what XO writes, not only what we write.
const VM = '0f5d2a3c-1b2c-4d5e-8f90-a1b2c3d4e5f6'
const fixture = new URL('../fixtures/xo-repository/', import.meta.url).pathname
let dir = ''
let remote: Remote

/** The disk both backups hold: 64 KiB of 0xaa at 0, 4 KiB of 0x55 at 1 MiB, in 2 MiB. */
function expectedDisk(size: number): Uint8Array {
  const disk = new Uint8Array(size)
  disk.fill(0xaa, 0, 64 * 1024)
  disk.fill(0x55, 1024 * 1024, 1024 * 1024 + 4096)
  return disk
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xo-repo-'))
  await cp(join(fixture, 'xo-vm-backups'), join(dir, 'xo-vm-backups'), { recursive: true })
  remote = await openLocalRemote(dir)
})
after(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe("a repository written in Xen Orchestra's layout", () => {
  it('lists its VM and both backups, complete, with XO fields kept', async () => {
    assert.deepEqual(await listBackupVms(remote), [VM])
    const { backups, invalid } = await listVmBackups(remote, VM)
    assert.deepEqual(invalid, [])
    assert.deepEqual(
      backups.map((b) => [b.metadata.mode, b.timestampMs, b.missingFiles]),
      [
        ['delta', Date.UTC(2026, 0, 1), []],
        ['full', Date.UTC(2026, 0, 2), []],
      ],
    )
    const delta = backups[0]?.metadata
    assert.equal(delta?.includeNonNbdQcow2Fix, true)
    assert.equal(
      delta.mode === 'delta' && delta.vdis['OpaqueRef:5e1e2c4b-vdi']?.$snapshot_of$uuid,
      'aaaaaaaa-1111-4222-8333-444444444444',
    )
  })

  it('checks clean', async () => {
    assert.deepEqual((await checkVmBackups(remote, VM)).findings, [])
  })

  it("restores the qemu-made VHD and the tar-made XVA to the disk's bytes, and verifies XO's checksum", async () => {
    const { backups } = await listVmBackups(remote, VM)
    const [delta, full] = backups
    assert.ok(delta && full, 'delta && full')
    const chain = await VhdChain.open(delta.files[0] ?? '', (path) => openRemoteFile(remote, path))
    const raw = await collect(chainToRaw(chain))
    await chain.close()
    // qemu rounds a VHD up to its CHS geometry: the disk's 2 MiB come first, then zeros.
    assertSameBytes(raw.subarray(0, 2 * 1024 * 1024), expectedDisk(2 * 1024 * 1024))
    assert.ok(
      raw.subarray(2 * 1024 * 1024).every((b) => b === 0),
      'raw.subarray(2 * 1024 * 1024).every((b) => b === 0)',
    )

    const xvaBytes = await readFile(join(dir, full.files[0] ?? ''))
    const { algorithm, hex } = parseChecksumText(
      await readFile(join(dir, full.checksumFile ?? ''), 'utf8'),
      'checksum',
    )
    assert.equal(createHash(algorithm).update(xvaBytes).digest('hex'), hex)
    const reader = await openXva([xvaBytes])
    for await (const disk of reader.disks()) {
      const bytes = new Uint8Array(disk.virtualSize)
      for await (const block of disk.blocks()) bytes.set(block.data, block.index * disk.blockSize)
      assertSameBytes(bytes, expectedDisk(2 * 1024 * 1024))
    }
  })
})
