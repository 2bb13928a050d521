// Restore of every backup a real backup scenario leaves (issue 11 §2 acceptance): delta runs with
// guest writes between them, fullInterval 3 and exportRetention 4 (so chains hold keys and deltas
// at every position and merges fold expired deltas into keys), and full (XVA) runs; after each run
// every listed backup is restored onto an SR of the simulator and compared with the snapshot it
// was taken from: disk bytes by userdevice, VIFs and their networks and MACs, name, tags,
// description, other_config; the remote's files are unchanged, and destroying the restored VM
// with its disks gives the pool back exactly as it was.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { destroyVmWithDisks } from '../../src/engine/restore/destroy-vm.ts'
import { restoreBackup, restoreTaskProperties } from '../../src/engine/restore/restore-backup.ts'
import type { RestoreFixture } from '../../src/engine/restore/testing/restore-fixture.ts'
import { MiB, startRestoreFixture } from '../../src/engine/restore/testing/restore-fixture.ts'
import type { BackupListing } from '../../src/repository/listing.ts'
import { formatBackupTimestamp } from '../../src/shared/timestamps.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../src/tasks/task.ts'
import type { TaskTreeNode } from '../../src/tasks/tree.ts'

interface Restored {
  readonly vmRef: string
  readonly vmUuid: string
  readonly tree: TaskTreeNode
}

describe('restore of every backup of a delta and a full scenario', () => {
  let f: RestoreFixture
  before(async () => {
    f = await startRestoreFixture(runBackupFromFile)
  })
  after(async () => {
    await f.close()
  })

  const sourceVifs = (vm: string): Map<string, { network: string; MAC: string }> => {
    const out = new Map<string, { network: string; MAC: string }>()
    for (const vif of f.sim.db.get('VM', f.vmRef(vm)).VIFs as string[]) {
      const record = f.sim.db.get('VIF', vif)
      out.set(record.device as string, { network: record.network as string, MAC: record.MAC as string })
    }
    return out
  }

  async function restore(backup: BackupListing, srName = 'Local'): Promise<Restored> {
    const sink = new MemorySink()
    const srUuid = f.sim.db.get('SR', f.srRef(srName)).uuid as string
    const restored = await runRootTask(
      { sink, clock: f.clock },
      restoreTaskProperties(backup, srUuid),
      (task) =>
        restoreBackup(
          { xapi: f.xapi, remote: f.remote, backup, srRef: f.srRef(srName), clock: f.clock },
          task,
        ),
    )
    const tree = sink.trees().roots[0]
    assert.ok(tree !== undefined, 'a restore task tree')
    return { ...restored, tree }
  }

  /** Checks one restored VM against its backup and the VM it was backed up from. */
  async function check(backup: BackupListing, restored: Restored, sourceVm: string): Promise<void> {
    const { sim } = f
    const what = `${backup.id} (${backup.metadata.mode})`
    const expected = f.expected.get(backup.metadata.timestamp)
    assert.ok(expected !== undefined, `${what}: a backup this test saw written`)
    // The seed's tree: restore {backupId, jobId, srId, time} → transfer → {id, size}.
    const { tree } = restored
    assert.equal(tree.message, 'restore', what)
    assert.equal(tree.status, 'success', what)
    assert.deepEqual(Object.keys(tree.data ?? {}).sort(), ['backupId', 'jobId', 'srId', 'time'], what)
    assert.equal(tree.data?.backupId, backup.id, what)
    assert.equal(tree.data.jobId, backup.metadata.jobId, what)
    assert.equal(tree.data.time, backup.metadata.timestamp, what)
    assert.deepEqual(
      tree.tasks.map((t) => t.message),
      ['transfer'],
      what,
    )
    const transfer = tree.tasks[0]
    assert.equal(transfer?.status, 'success', what)
    const result = transfer.result as { id?: unknown; size?: unknown }
    assert.equal(result.id, restored.vmUuid, what)
    assert.ok(typeof result.size === 'number' && result.size > 0, `${what}: a transfer size`)

    const vm = sim.db.get('VM', restored.vmRef)
    assert.equal(vm.uuid, restored.vmUuid, what)
    const source = sim.db.get('VM', f.vmRef(sourceVm))
    assert.equal(
      vm.name_label,
      `${source.name_label as string} (${formatBackupTimestamp(backup.timestampMs)})`,
      what,
    )
    assert.match(
      vm.name_description as string,
      new RegExp(
        `^Restored on \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z from file:///.+/remote - ${source.name_description as string}$`,
      ),
      what,
    )
    assert.deepEqual(
      [...(vm.tags as string[])].sort(),
      [...(source.tags as string[]), 'restored from backup'].sort(),
      what,
    )
    assert.equal(vm.power_state, 'Halted', what)
    assert.equal(vm.is_a_template, false, what)
    assert.equal(vm.is_a_snapshot, false, what)
    assert.deepEqual(
      vm.blocked_operations,
      {},
      `${what}: neither the import's start block nor the backup's migration block`,
    )
    const backupKeys = (map: unknown): string[] =>
      Object.keys(map as Record<string, string>).filter(
        (k) => k.startsWith('xo:backup:') || k === 'xo:copy_of',
      )
    assert.deepEqual(backupKeys(vm.other_config), [], `${what}: VM other_config cleaned`)
    for (const [key, value] of Object.entries(source.other_config as Record<string, string>))
      if (!key.startsWith('xo:') && key !== 'mac_seed')
        assert.equal(
          (vm.other_config as Record<string, string>)[key],
          value,
          `${what}: other_config.${key} kept`,
        )

    // Disks: the snapshot's bytes, at the same userdevices (the [NOBAK] disk was never backed up).
    const disks = new Map<string, string>()
    for (const vbdRef of vm.VBDs as string[]) {
      const vbd = sim.db.get('VBD', vbdRef)
      assert.equal(vbd.type, 'Disk', what)
      const vdi = sim.db.get('VDI', vbd.VDI as string)
      assert.equal(vdi.SR, f.srRef('Local'), what)
      assert.deepEqual(backupKeys(vdi.other_config), [], `${what}: VDI other_config cleaned`)
      disks.set(vbd.userdevice as string, await sim.storage.digest(vbd.VDI as string))
    }
    assert.deepEqual(disks, expected, `${what}: every disk restored to the snapshot's bytes`)

    // VIFs: as many as the VM had, each on its network with its MAC, by device.
    const vifs = new Map<string, { network: string; MAC: string }>()
    for (const vifRef of vm.VIFs as string[]) {
      const vif = sim.db.get('VIF', vifRef)
      vifs.set(vif.device as string, { network: vif.network as string, MAC: vif.MAC as string })
    }
    const want = sourceVifs(sourceVm)
    if (backup.metadata.mode === 'full') {
      // XAPI's /import gives an imported VM's VIFs new MACs (xapi.md §3.2; XO's full restore too).
      for (const [device, vif] of vifs)
        assert.match(vif.MAC, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, `${what}: VIF ${device} MAC`)
      const networks = (m: Map<string, { network: string }>): [string, string][] =>
        [...m].map(([device, v]) => [device, v.network])
      assert.deepEqual(networks(vifs), networks(want), `${what}: VIFs`)
    } else assert.deepEqual(vifs, want, `${what}: VIFs with their MACs`)
  }

  async function restoreAll(vm: string, seen: Set<string>): Promise<void> {
    const before = await f.remoteDigests()
    const objects = f.poolObjects()
    for (const backup of await f.backups(vm)) {
      const restored = await restore(backup)
      await check(backup, restored, vm)
      // What the restore made is exactly the VM and its disks: removing them leaves the pool as it was.
      assert.deepEqual(await destroyVmWithDisks(f.xapi, restored.vmRef), [])
      assert.deepEqual(f.poolObjects(), objects, `${backup.id}: nothing else left on the pool`)
      const metadata = backup.metadata
      if (metadata.mode === 'delta') {
        const shape = Object.values(metadata.isVhdDifferencing ?? {}).some(Boolean) ? 'delta' : 'key'
        seen.add(`${shape}@${backup.id === (await f.backups(vm)).at(-1)?.id ? 'newest' : 'older'}`)
      }
    }
    assert.deepEqual(await f.remoteDigests(), before, 'the remote is only read')
  }

  it(
    'delta backups: keys and deltas at every position, before and after merges, restore to their snapshots',
    { timeout: 900_000 },
    async () => {
      const seen = new Set<string>()
      const writtenAsKey = new Map<number, boolean>()
      const isKey = (b: BackupListing): boolean =>
        b.metadata.mode === 'delta' && !Object.values(b.metadata.isVhdDifferencing ?? {}).some(Boolean)
      let mergedRestored = 0
      for (let run = 1; run <= 7; run++) {
        if (run > 1) f.sim.guestWrite(f.vmRef('web'), { seed: 100 + run, changedFraction: 0.3 })
        await f.runJob('delta')
        const listed = await f.backups('web')
        const newest = listed.at(-1)
        assert.ok(newest?.metadata.mode === 'delta', `run ${run}: a delta backup`)
        writtenAsKey.set(newest.metadata.timestamp, isKey(newest))
        // A kept backup written as a delta that is a key now: its expired ancestors were merged into it.
        mergedRestored += listed.filter(
          (b) => isKey(b) && writtenAsKey.get(b.metadata.timestamp) === false,
        ).length
        await restoreAll('web', seen)
      }
      // The scenario did what it is for: chains with keys and deltas, in every position, and merges.
      assert.deepEqual([...seen].sort(), ['delta@newest', 'delta@older', 'key@newest', 'key@older'])
      assert.ok(mergedRestored > 0, 'a delta merged into a key was restored')
    },
  )

  it('a disk onto another SR, new MACs: each disk where asked, the VIFs on their networks with other MACs', async () => {
    const backup = (await f.backups('web')).at(-1)
    assert.ok(backup?.metadata.mode === 'delta', 'a delta backup of web (the test above ran)')
    // The data disk (userdevice 1) by its live VDI uuid, the chain folder its VHDs are in.
    const dataRef = Object.entries(backup.metadata.vbds).find(([, v]) => v.userdevice === '1')?.[1].VDI
    const liveUuid = backup.metadata.vhds[String(dataRef)]?.split('/')[2] ?? ''
    const sink = new MemorySink()
    const restored = await runRootTask({ sink }, restoreTaskProperties(backup, 'sr'), (task) =>
      restoreBackup(
        {
          xapi: f.xapi,
          remote: f.remote,
          backup,
          srRef: f.srRef('Local'),
          mapVdiSrs: new Map([[liveUuid.toUpperCase(), f.srRef('Other')]]),
          newMacAddresses: true,
          clock: f.clock,
        },
        task,
      ),
    )
    const vm = f.sim.db.get('VM', restored.vmRef)
    const srs = new Map<string, string>()
    const disks = new Map<string, string>()
    for (const vbdRef of vm.VBDs as string[]) {
      const vbd = f.sim.db.get('VBD', vbdRef)
      srs.set(vbd.userdevice as string, f.sim.db.get('VDI', vbd.VDI as string).SR as string)
      disks.set(vbd.userdevice as string, await f.sim.storage.digest(vbd.VDI as string))
    }
    assert.deepEqual(Object.fromEntries(srs), { '0': f.srRef('Local'), '1': f.srRef('Other') })
    assert.deepEqual(disks, f.expected.get(backup.metadata.timestamp))
    const source = sourceVifs('web')
    for (const vifRef of vm.VIFs as string[]) {
      const vif = f.sim.db.get('VIF', vifRef)
      const original = source.get(vif.device as string)
      assert.equal(vif.network, original?.network, 'same network')
      assert.notEqual(vif.MAC, original?.MAC, 'a new MAC')
    }
    assert.equal((vm.VIFs as string[]).length, source.size)
    assert.deepEqual(await destroyVmWithDisks(f.xapi, restored.vmRef), [])
  }) // prettier-ignore

  it('full backups (XVA) restore to the disks they were taken of', { timeout: 600_000 }, async () => {
    const seen = new Set<string>()
    const app = f.vmRef('app')
    const [vbd] = f.sim.db.get('VM', app).VBDs as string[]
    const vdi = f.sim.db.get('VBD', vbd ?? '').VDI as string
    for (let run = 1; run <= 3; run++) {
      // A halted VM: the disk changes as a guest's would, between the runs.
      if (run > 1)
        f.sim.storage.writeBlocks(vdi, [{ offsetBytes: run * MiB, data: new Uint8Array(4096).fill(run) }])
      await f.runJob('full')
      await restoreAll('app', seen)
    }
    assert.equal((await f.backups('app')).length, 2, 'exportRetention 2')
  })
})
