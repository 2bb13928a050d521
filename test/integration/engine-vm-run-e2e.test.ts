// The VM run with the real pieces around it: the simulator over HTTP, the real sources
// (/export_raw_vdi?format=vhd&base=, /export) and the real remote target on a local remote. Three
// delta runs with guest writes between them, exportRetention 2: the remote keeps the last two
// backups and each reads back (VHD chain → raw) equal to the disk at its run; then a full backup.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { defaultSettings } from '../../src/engine/settings-schema.ts'
import { openVdiExport } from '../../src/engine/sources/vdi-export.ts'
import { openVmExport } from '../../src/engine/sources/vm-export.ts'
import { createRemoteTarget } from '../../src/engine/targets/remote-target.ts'
import { localRemoteStoreForTests } from '../../src/engine/targets/testing/local-store.ts'
import { readBackDeltas } from '../../src/engine/targets/testing/fake-vm.ts'
import type { VmRunSources } from '../../src/engine/vm-run/sources.ts'
import type { VmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'
import { MiB, startVmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { systemClock } from '../../src/shared/clock.ts'

const HOUR = 3_600_000

describe('VM run end to end: simulator, real sources, remote target', () => {
  let f: VmRunFixture
  let root: string
  let remote: Remote
  // The real sources satisfy the VM run's injected interface as they are.
  const sources: VmRunSources = { openVdiExport, openVmExport }

  before(async () => {
    f = await startVmRunFixture()
    root = await mkdtemp(join(tmpdir(), 'vm-run-remote-'))
    remote = await openLocalRemote(root)
  })
  after(async () => {
    await f.close()
    await rm(root, { recursive: true, force: true })
  })

  const target = (exportRetention: number) =>
    createRemoteTarget({
      remote,
      remoteId: 'local',
      settings: { ...defaultSettings(), exportRetention },
      mergeStore: localRemoteStoreForTests(root),
      clock: systemClock,
    })

  it('chains three delta runs on the remote and keeps the last two', { timeout: 180_000 }, async () => {
    const [system, data] = f.disks('web')
    assert.ok(system !== undefined && data !== undefined, 'system !== undefined && data !== undefined')
    const expected = new Map<number, Map<string, Buffer>>()
    for (let run = 0; run < 3; run++) {
      f.write(system.ref, run * 2 * MiB + 512, 64 * 1024, run + 1)
      if (run !== 1) f.write(data.ref, MiB, 4096, run + 20)
      const outcome = await f.run({ vm: 'web', targets: [target(2)], sources })
      assert.equal(outcome.error, undefined, String(outcome.error))
      const exportTask = outcome.tree.tasks.find((t) => t.message === 'export')
      assert.ok(exportTask !== undefined, 'exportTask !== undefined')
      assert.equal(exportTask.data?.isFull, run === 0)
      // The target's own steps inside the export task the run gave it; the third run merges one away.
      const steps = exportTask.tasks.map((t) => [t.message, t.status])
      assert.deepEqual(steps, [
        ['transfer', 'success'],
        ['merge', 'success'],
      ])
      if (run === 2) assert.notDeepEqual(exportTask.tasks[1]?.result, { size: 0 })
      expected.set(
        outcome.result?.timestampMs ?? -1,
        new Map([
          [system.uuid, f.sim.storage.readAll(system.ref)],
          [data.uuid, f.sim.storage.readAll(data.ref)],
        ]),
      )
      f.advance(HOUR)
    }
    const stored = await readBackDeltas(remote, f.vmUuid('web'))
    assert.deepEqual([...stored.keys()], [...expected.keys()].slice(-2))
    for (const [at, disks] of stored) {
      assert.deepEqual([...disks.keys()].sort(), [system.uuid, data.uuid].sort())
      for (const [live, bytes] of disks)
        assert.ok(Buffer.from(bytes).equals(expected.get(at)?.get(live) ?? Buffer.alloc(0)), `${at} ${live}`)
    }
  })

  it('writes a full backup of a halted VM as an XVA', { timeout: 120_000 }, async () => {
    const outcome = await f.run({ vm: 'db', mode: 'full', targets: [target(1)], sources })
    assert.equal(outcome.error, undefined, String(outcome.error))
    const { backups } = await listVmBackups(remote, f.vmUuid('db'), { useCache: false })
    assert.deepEqual(
      backups.map((b) => [b.metadata.mode, b.missingFiles.length]),
      [['full', 0]],
    )
  })
})
