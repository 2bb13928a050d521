// The VM run's snapshot modes against the simulator (xen-orchestra-backups.md §1.2, §1.5, §3.3):
// full mode with and without a snapshot, checkpoints (tag xo-memory-backup) with their memory
// disk, offline snapshots (tag xo-offline-backup), and the run with no target.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { VmRunError } from '../../src/engine/vm-run/vm-run-error.ts'
import { TaskSkipped } from '../../src/tasks/task.ts'
import { FakeTarget } from '../../src/engine/vm-run/testing/fake-target.ts'
import { simSources } from '../../src/engine/vm-run/testing/sim-sources.ts'
import type { VmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'
import { MiB, snapshotsOf, startVmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'

const HOUR = 3_600_000
const TIMEOUT = { timeout: 120_000 }

describe('VM run, snapshot modes', () => {
  let f: VmRunFixture
  beforeEach(async () => {
    f = await startVmRunFixture()
  })
  afterEach(async () => {
    await f.close()
  })

  const vm = (ref: string) => f.sim.db.get('VM', ref)

  it('full mode exports a halted VM itself, without a snapshot', TIMEOUT, async () => {
    const [disk] = f.disks('db')
    f.write(disk?.ref ?? '', 0, MiB, 3)
    const sources = simSources(f.sim)
    const target = new FakeTarget({ id: 'A' })
    const outcome = await f.run({ vm: 'db', mode: 'full', targets: [target], sources })
    assert.equal(outcome.error, undefined)
    assert.deepEqual(sources.openedVms, [f.vmRef('db')])
    assert.deepEqual(target.calls, ['beforeBackup', 'runFull', 'afterBackup'])
    assert.equal(target.backups[0]?.xvaBytes, 4 * MiB)
    assert.deepEqual(snapshotsOf(f, 'db'), [])
    assert.deepEqual(
      outcome.tree.tasks.map((t) => [t.message, t.data]),
      [['export', { type: 'remote', id: 'A', isFull: true }]],
    )
  })

  it(
    'full mode snapshots a running VM, leaves [NOBAK] out, and removes the snapshot after',
    TIMEOUT,
    async () => {
      const sources = simSources(f.sim)
      const a = new FakeTarget({ id: 'A' })
      const b = new FakeTarget({ id: 'B' })
      const outcome = await f.run({ vm: 'web', mode: 'full', targets: [a, b], sources })
      assert.equal(outcome.error, undefined)
      const [exported] = sources.openedVms
      assert.ok(
        exported !== undefined && exported !== f.vmRef('web'),
        "exported !== undefined && exported !== f.vmRef('web')",
      )
      assert.equal(outcome.tree.tasks[0]?.message, 'snapshot')
      assert.equal(a.backups[0]?.xvaBytes, 10 * MiB, 'the 6 and 4 MiB disks, not the [NOBAK] one')
      assert.equal(b.backups[0]?.xvaBytes, 10 * MiB, 'both targets read the same stream')
      assert.equal(f.sim.db.find('VM', exported), undefined, 'snapshotRetention 0')
    },
  )

  it(
    'a xo-memory-backup VM is checkpointed; its memory is exported as one more full disk',
    TIMEOUT,
    async () => {
      await f.xapi.call('VM.add_tags', [f.vmRef('web'), 'xo-memory-backup'])
      const target = new FakeTarget({ id: 'A' })
      const vdisBefore = f.sim.db.select('VDI', () => true).length
      assert.equal((await f.run({ vm: 'web', targets: [target] })).error, undefined)
      const [checkpoint] = snapshotsOf(f, 'web')
      assert.ok(checkpoint !== undefined, 'checkpoint !== undefined')
      assert.equal(vm(checkpoint).power_state, 'Suspended')
      const memory = vm(checkpoint).suspend_VDI as string
      const disks = target.backups[0]?.disks ?? []
      assert.equal(disks.length, 3)
      assert.deepEqual(disks[2], {
        ...disks[2],
        snapshotVdiUuid: f.sim.db.get('VDI', memory).uuid,
        baseSnapshotVdiUuid: undefined,
      })
      assert.equal(
        (vm(checkpoint).VBDs as string[]).length,
        2,
        'the [NOBAK] disk was removed from the checkpoint',
      )
      assert.equal(f.sim.db.select('VDI', () => true).length, vdisBefore + 3)

      f.advance(HOUR)
      assert.equal((await f.run({ vm: 'web', targets: [target] })).error, undefined)
      assert.equal(f.sim.db.find('VDI', memory), undefined, "the old checkpoint's memory went with it")
      assert.equal(f.sim.db.select('VDI', () => true).length, vdisBefore + 3)
      assert.deepEqual(
        target.backups[1]?.disks.map((d) => d.baseSnapshotVdiUuid === undefined),
        [false, false, true],
      )
    },
  )

  it('a xo-offline-backup VM is halted only for its snapshot', TIMEOUT, async () => {
    await f.xapi.call('VM.add_tags', [f.vmRef('web'), 'xo-offline-backup'])
    let during: unknown
    const target = new FakeTarget({
      id: 'A',
      onTransfer: () => {
        during = vm(f.vmRef('web')).power_state
      },
    })
    assert.equal((await f.run({ vm: 'web', targets: [target] })).error, undefined)
    const [snapshot] = snapshotsOf(f, 'web')
    assert.equal(
      (vm(snapshot ?? '').snapshot_info as Record<string, string>)['power-state-at-snapshot'],
      'Halted',
    )
    assert.equal(during, 'Running')
    assert.equal(vm(f.vmRef('web')).power_state, 'Running')
  })

  it('without targets it keeps snapshots only when snapshotRetention asks for them', TIMEOUT, async () => {
    const refused = await f.run({ vm: 'db', targets: [] })
    assert.ok(refused.error instanceof VmRunError, 'refused.error instanceof VmRunError')
    assert.equal(refused.error.code, 'VM_RUN_NOTHING_TO_DO')
    const kept = await f.run({ vm: 'db', targets: [], settings: { snapshotRetention: 1 } })
    assert.equal(kept.error, undefined)
    const [snapshot] = snapshotsOf(f, 'db')
    assert.ok(snapshot !== undefined, 'snapshot !== undefined')
    assert.equal((vm(snapshot).other_config as Record<string, string>)['xo:backup:exported'], undefined)
  })

  it('a delta backup of a VM without disks is skipped, cleanly', TIMEOUT, async () => {
    const target = new FakeTarget({ id: 'A' })
    const outcome = await f.run({ vm: 'diskless', targets: [target] })
    assert.ok(outcome.error instanceof TaskSkipped, 'outcome.error instanceof TaskSkipped')
    assert.match(outcome.error.message, /no disks found/)
    assert.equal(outcome.tree.status, 'skipped')
    assert.deepEqual(target.calls, ['beforeBackup', 'afterBackup'])
    assert.deepEqual(vm(f.vmRef('diskless')).blocked_operations, {})
    assert.deepEqual(snapshotsOf(f, 'diskless'), [])
  })
})
