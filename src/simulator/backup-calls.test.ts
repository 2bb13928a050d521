import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import type { PoolDescription, RunningSimulator } from './index.ts'
import { startSimulator } from './index.ts'
import type { JsonRpcTestClient } from './testing/raw-rpc.ts'
import { jsonRpcLogin, waitTask } from './testing/raw-rpc.ts'

type Rec = Record<string, unknown>
const MiB = 1024 * 1024
const REASON = 'VM migration is blocked during backup'

const POOL: PoolDescription = {
  hosts: [{ name: 'h1' }, { name: 'h2' }],
  srs: [{ name: 'sr', shared: true, supportsCbt: true }],
  networks: [{ name: 'net' }],
  vms: [
    {
      name: 'app',
      powerState: 'Running',
      disks: [
        { name: 'app system', sizeBytes: 8 * MiB, content: { seed: 1, allocatedFraction: 0.5 } },
        { name: 'app cache [NOBAK]', sizeBytes: 4 * MiB },
      ],
      networks: ['net'],
    },
    { name: 'cold', powerState: 'Halted', disks: [{ sizeBytes: 4 * MiB }] },
  ],
}

// The calls of one VM backup run (xen-orchestra-backups.md §3.1, xapi.md §8.6), each pinned on the wire.
describe('what a VM backup run calls (xapi.md §2.2–2.5, §8.6)', () => {
  const clock = createFixedClock(Date.UTC(2026, 2, 4, 5, 6, 7))
  let sim: RunningSimulator
  let x: JsonRpcTestClient
  const vm = (name: string) => sim.pool.vms.get(name) ?? ''
  const rec = async (cls: string, ref: string) => (await x.call(`${cls}.get_record`, ref)) as Rec
  const vdisOf = async (ref: string) =>
    Promise.all(
      ((await rec('VM', ref)).VBDs as string[]).map(
        async (vbd) => (await x.call('VBD.get_VDI', vbd)) as string,
      ),
    )

  before(async () => {
    sim = await startSimulator({ pool: POOL, clock })
    x = await jsonRpcLogin(sim)
  })
  after(() => sim.close())

  it('blocked pool_migrate/migrate_send fail OPERATION_BLOCKED [vm, reason]; unblocked, pool_migrate moves the VM', async () => {
    const app = vm('app')
    const h2 = sim.pool.hosts.get('h2') ?? ''
    for (const op of ['pool_migrate', 'migrate_send'])
      await x.call('VM.add_to_blocked_operations', app, op, REASON)
    await x.call('VM.update_allowed_operations', app)
    assert.deepEqual(await x.fail('VM.pool_migrate', app, h2, {}), ['OPERATION_BLOCKED', app, REASON])
    assert.deepEqual(await x.fail('VM.migrate_send', app, { host: h2 }, true, {}, {}, {}), [
      'OPERATION_BLOCKED',
      app,
      REASON,
    ])
    for (const op of ['pool_migrate', 'migrate_send'])
      await x.call('VM.remove_from_blocked_operations', app, op)
    await x.call('VM.pool_migrate', app, h2, { live: 'true' })
    assert.equal((await rec('VM', app)).resident_on, h2)
    assert.equal(await x.call('VM.migrate_send', app, { host: sim.pool.master }, true, {}, {}, {}), app)
    assert.equal((await rec('VM', app)).resident_on, sim.pool.master)
    assert.deepEqual(
      await x.fail('VM.migrate_send', app, { host: 'OpaqueRef:elsewhere' }, true, {}, {}, {}),
      ['INTERNAL_ERROR', 'migration to another pool is not simulated'],
    )
    assert.deepEqual(await x.fail('VM.pool_migrate', vm('cold'), h2, {}), [
      'VM_BAD_POWER_STATE',
      vm('cold'),
      'running',
      'halted',
    ])
  })

  it('a migration in progress shows in current_operations and refuses a snapshot', async () => {
    const app = vm('app')
    const held = sim.holdVmOperation(app, 'pool_migrate')
    assert.deepEqual((await rec('VM', app)).current_operations, { [held.task]: 'pool_migrate' })
    assert.equal((await rec('task', held.task)).status, 'pending')
    assert.deepEqual(await x.fail('VM.snapshot', app, 'during', []), [
      'OTHER_OPERATION_IN_PROGRESS',
      'VM',
      app,
      'pool_migrate',
      held.task,
    ])
    held.end()
    assert.deepEqual((await rec('VM', app)).current_operations, {})
    assert.equal((await rec('task', held.task)).status, 'success')
    assert.throws(() => sim.holdVmOperation(vm('cold'), 'pool_migrate'), /VM_BAD_POWER_STATE/)
  })

  it('a running Async.VM.pool_migrate holds pool_migrate in current_operations', async () => {
    // The system clock: the latency must really keep the task pending (a fixed clock skips it).
    const live = await startSimulator({ pool: POOL })
    try {
      const y = await jsonRpcLogin(live)
      const app = live.pool.vms.get('app') ?? ''
      live.faults.addLatency('Async.VM.pool_migrate', 3_600_000)
      const task = (await y.call('Async.VM.pool_migrate', app, live.pool.hosts.get('h2'), {})) as string
      assert.deepEqual(await y.call('VM.get_current_operations', app), { [task]: 'pool_migrate' })
      await y.call('task.cancel', task)
      assert.equal((await waitTask(y, task)).status, 'cancelled')
      assert.deepEqual(await y.call('VM.get_current_operations', app), {})
    } finally {
      await live.close()
    }
  })

  it('VM.snapshot with ignore_vdis, then the snapshot records: times from the clock, links, other_config', async () => {
    const app = vm('app')
    const [system, nobak] = (await vdisOf(app)) as [string, string]
    await x.call('VDI.add_to_other_config', system, 'xo:copy_of', 'x')
    const snap = (
      await waitTask(
        x,
        (await x.call('Async.VM.snapshot', app, 'xo-backup-temp-snapshot-name', [nobak])) as string,
      )
    ).result as string
    const snapRef = snap.slice(7, -8)
    const s = await rec('VM', snapRef)
    assert.equal(s.snapshot_time, '20260304T05:06:07Z')
    const [snapVdi, ...others] = await vdisOf(snapRef)
    assert.deepEqual(others, [], 'the [NOBAK] disk is left out')
    const v = await rec('VDI', snapVdi ?? '')
    assert.deepEqual([v.is_a_snapshot, v.snapshot_of, v.snapshot_time], [true, system, '20260304T05:06:07Z'])
    assert.equal((v.other_config as Rec)['xo:copy_of'], 'x', 'VDI.snapshot copies other_config')
    const all = (await x.call('VDI.get_all_records')) as Record<string, Rec>
    assert.deepEqual(all[system]?.snapshots, [snapVdi])
    assert.deepEqual([all[snapVdi ?? '']?.is_a_snapshot, all[snapVdi ?? '']?.snapshot_of], [true, system])
    assert.deepEqual(all[nobak]?.snapshots, [])
    // What the run writes on the snapshot and its disks.
    await x.call('VM.set_is_a_template', snapRef, false)
    await x.call('VM.set_name_label', snapRef, '[XO Backup] app')
    for (const key of ['xo:backup:job', 'xo:backup:vm']) {
      await x.call('VM.remove_from_other_config', snapRef, key)
      await x.call('VM.add_to_other_config', snapRef, key, 'j')
      await x.call('VDI.remove_from_other_config', snapVdi, key)
      await x.call('VDI.add_to_other_config', snapVdi, key, 'j')
    }
    await x.call('VDI.remove_from_other_config', snapVdi, 'xo:copy_of')
    assert.deepEqual((await rec('VDI', snapVdi ?? '')).other_config, {
      'xo:backup:job': 'j',
      'xo:backup:vm': 'j',
    })
    const after = await rec('VM', snapRef)
    assert.deepEqual(
      [after.is_a_template, after.name_label, (after.other_config as Rec)['xo:backup:vm']],
      [false, '[XO Backup] app', 'j'],
    )
    // Retention: destroy the snapshot VM, then its VDIs.
    await x.call('VM.destroy', snapRef)
    await x.call('VDI.destroy', snapVdi)
    assert.deepEqual(await x.fail('VDI.get_record', snapVdi), ['HANDLE_INVALID', 'VDI', snapVdi])
    assert.deepEqual((await rec('VDI', system)).snapshots, [])
    assert.deepEqual((await rec('VM', app)).snapshots, [])
  })

  it('VM.checkpoint of a running VM is a suspended snapshot with a memory VDI; of a halted one VM_BAD_POWER_STATE', async () => {
    const cp = (await x.call('VM.checkpoint', vm('app'), 'cp')) as string
    const c = await rec('VM', cp)
    assert.deepEqual(
      [c.is_a_snapshot, c.power_state, c.snapshot_time],
      [true, 'Suspended', '20260304T05:06:07Z'],
    )
    assert.equal((await rec('VDI', c.suspend_VDI as string)).type, 'suspend')
    assert.deepEqual(await x.fail('VM.checkpoint', vm('cold'), 'cp'), [
      'VM_BAD_POWER_STATE',
      vm('cold'),
      'paused, suspended, running',
      'halted',
    ])
  })

  it('offline backup: clean_shutdown, snapshot of the halted VM, start; a blocked start fails with its message', async () => {
    const app = vm('app')
    await x.call('VM.clean_shutdown', app)
    assert.equal(await x.call('VM.get_power_state', app), 'Halted')
    const snap = (await x.call('VM.snapshot', app, 'offline', [])) as string
    assert.equal(((await rec('VM', snap)).snapshot_info as Rec)['power-state-at-snapshot'], 'Halted')
    await x.call('VM.add_to_blocked_operations', app, 'start', 'This VM is a replica')
    assert.deepEqual(await x.fail('VM.start', app, false, false), [
      'OPERATION_BLOCKED',
      app,
      'This VM is a replica',
    ])
    await x.call('VM.remove_from_blocked_operations', app, 'start')
    await x.call('VM.start', app, false, false)
    assert.equal(await x.call('VM.get_power_state', app), 'Running')
    await x.call('VM.hard_shutdown', app)
    assert.equal(await x.call('VM.get_power_state', app), 'Halted')
  })
})
