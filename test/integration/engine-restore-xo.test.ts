// Restore of what Xen Orchestra writes (test/fixtures/xo-repository: a delta backup with XO's
// `$network$…` VIF fields and a qemu-img VHD, a full backup whose XVA GNU tar built), onto the
// simulator: compatibility with XO's repositories, not only with our own writer. The delta's VIF
// lands on the network of the same name and VLAN (not the default one); its MAC is kept, or new
// with newMacAddresses; the disks hold the bytes the fixture's README describes.
import assert from 'node:assert/strict'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { destroyVmWithDisks } from '../../src/engine/restore/destroy-vm.ts'
import type { RestoredVm } from '../../src/engine/restore/restore-backup.ts'
import { restoreBackup, restoreTaskProperties } from '../../src/engine/restore/restore-backup.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import type { BackupListing } from '../../src/repository/listing.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { digestFolder } from '../../src/engine/restore/testing/restore-fixture.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../src/tasks/task.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

const VM = '0f5d2a3c-1b2c-4d5e-8f90-a1b2c3d4e5f6'
const MiB = 1024 * 1024
const fixture = new URL('../fixtures/xo-repository/', import.meta.url).pathname

/** The disk both backups hold: 64 KiB of 0xaa at 0, 4 KiB of 0x55 at 1 MiB, in 2 MiB (fixture README). */
function expectedDisk(): Buffer {
  const disk = Buffer.alloc(2 * MiB)
  disk.fill(0xaa, 0, 64 * 1024)
  disk.fill(0x55, MiB, MiB + 4096)
  return disk
}

describe("restore of a repository written in Xen Orchestra's layout", () => {
  let dir: string
  let remote: Remote
  let sim: RunningSimulator
  let xapi: HttpXapiClient
  let backups: readonly BackupListing[]
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'restore-xo-'))
    await cp(join(fixture, 'xo-vm-backups'), join(dir, 'remote', 'xo-vm-backups'), { recursive: true })
    remote = await openLocalRemote(join(dir, 'remote'))
    sim = await startSimulator({
      pool: {
        name: 'xo restore pool',
        hosts: [{ name: 'host-1', address: '127.0.0.1' }],
        srs: [{ name: 'Local', type: 'ext', sizeBytes: 256 * MiB }],
        // The management network first (the default), then one named as the backup's VIF says.
        networks: [
          { name: 'management', bridge: 'xenbr0' },
          { name: 'Pool-wide network', bridge: 'xenbr1' },
          { name: 'Pool-wide network', bridge: 'xapi2', vlan: 30 },
        ],
        vms: [],
      },
    })
    xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await xapi.connect()
    backups = (await listVmBackups(remote, VM, { useCache: false })).backups
    assert.deepEqual(
      backups.map((b) => b.metadata.mode),
      ['delta', 'full'],
    )
  })
  after(async () => {
    await xapi.disconnect()
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  const srRef = (): string => sim.db.select('SR', (r) => r.name_label === 'Local')[0] ?? ''

  async function restore(backup: BackupListing, newMacAddresses = false): Promise<RestoredVm> {
    return runRootTask({ sink: new MemorySink() }, restoreTaskProperties(backup, 'sr'), (task) =>
      restoreBackup({ xapi, remote, backup, srRef: srRef(), newMacAddresses, remoteName: 'nas' }, task),
    )
  }

  /** The content of the VM's only disk; with `vbd`, the VBD must have these fields. */
  function diskOf(vmRef: string, vbd?: { userdevice: string; bootable: boolean }): Buffer {
    const vbds = sim.db.get('VM', vmRef).VBDs as string[]
    assert.equal(vbds.length, 1, 'one disk')
    const record = sim.db.get('VBD', vbds[0] ?? '')
    if (vbd !== undefined) assert.deepEqual({ userdevice: record.userdevice, bootable: record.bootable }, vbd)
    return sim.storage.readAll(record.VDI as string)
  }

  it('the delta backup: its disk, its VIF on the same-named untagged network with its MAC, its attributes', async () => {
    const before = await digestFolder(join(dir, 'remote'))
    const [delta] = backups
    assert.ok(delta !== undefined, 'the delta backup')
    const restored = await restore(delta)
    const vm = sim.db.get('VM', restored.vmRef)
    assert.equal(vm.name_label, 'web-01 (20260101T000000Z)')
    assert.match(vm.name_description as string, /^Restored on .+ from nas - $/)
    assert.deepEqual([...(vm.tags as string[])].sort(), ['prod', 'restored from backup'])
    assert.ok(
      diskOf(restored.vmRef, { userdevice: '0', bootable: true }).equals(expectedDisk()),
      'the qemu-img VHD restored byte for byte, on its VBD',
    )
    const [vif] = vm.VIFs as string[]
    const record = sim.db.get('VIF', vif ?? '')
    const network = sim.db.get('network', record.network as string)
    assert.deepEqual([network.name_label, network.bridge], ['Pool-wide network', 'xenbr1'])
    assert.equal(record.MAC, '96:12:34:56:78:9a')
    assert.deepEqual(await destroyVmWithDisks(xapi, restored.vmRef), [])
    const fresh = await restore(delta, true)
    const [freshVif] = sim.db.get('VM', fresh.vmRef).VIFs as string[]
    assert.notEqual(sim.db.get('VIF', freshVif ?? '').MAC, '96:12:34:56:78:9a', 'a new MAC when asked')
    assert.deepEqual(await destroyVmWithDisks(xapi, fresh.vmRef), [])
    assert.deepEqual(await digestFolder(join(dir, 'remote')), before, 'the repository is only read')
  })

  it('the full backup: the GNU tar XVA imported, its disk restored', async () => {
    const [, full] = backups
    assert.ok(full !== undefined, 'the full backup')
    const restored = await restore(full)
    assert.equal(sim.db.get('VM', restored.vmRef).name_label, 'web-01 (20260102T000000Z)')
    assert.ok(diskOf(restored.vmRef).equals(expectedDisk()), 'the XVA chunks restored byte for byte')
    assert.deepEqual(await destroyVmWithDisks(xapi, restored.vmRef), [])
  })
})
