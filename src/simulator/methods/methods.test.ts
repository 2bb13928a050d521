import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { RunningSimulator } from '../index.ts'
import { startSimulator } from '../index.ts'
import type { JsonRpcTestClient } from '../testing/raw-rpc.ts'
import { jsonRpcLogin } from '../testing/raw-rpc.ts'

type Rec = Record<string, unknown>

describe('simulator methods (xapi.md §2.3–2.6)', () => {
  let sim: RunningSimulator
  let x: JsonRpcTestClient
  let sr: string
  let net: string
  const rec = async (cls: string, ref: string) => (await x.call(`${cls}.get_record`, ref)) as Rec

  before(async () => {
    sim = await startSimulator()
    x = await jsonRpcLogin(sim)
    sr = sim.pool.srs.get('Local storage') ?? ''
    net = sim.pool.networks.get('Backup network') ?? ''
  })
  after(() => sim.close())

  it('VDI.create/clone/copy/resize/snapshot keep sizes, SRs and snapshot links', async () => {
    const vdi = (await x.call('VDI.create', {
      name_label: 'd',
      SR: sr,
      virtual_size: 1024,
      type: 'user',
      sharable: false,
      read_only: false,
      other_config: { a: 'b' },
    })) as string
    assert.ok(
      ((await x.call('SR.get_VDIs', sr)) as string[]).includes(vdi),
      "((await x.call('SR.get_VDIs', sr)) as string[]).includes(vdi)",
    )
    await x.call('VDI.resize', vdi, 4096)
    assert.equal(await x.call('VDI.get_virtual_size', vdi), 4096)
    const clone = await rec('VDI', (await x.call('VDI.clone', vdi, {})) as string)
    assert.deepEqual(
      [clone.virtual_size, clone.is_a_snapshot, clone.snapshot_of, clone.other_config],
      [4096, false, 'OpaqueRef:NULL', { a: 'b' }],
    )
    const nfs = sim.pool.srs.get('Shared NFS') ?? ''
    assert.equal((await rec('VDI', (await x.call('VDI.copy', vdi, nfs)) as string)).SR, nfs)
    const snap = (await x.call('VDI.snapshot', vdi, {})) as string
    assert.deepEqual(await x.call('VDI.get_snapshots', vdi), [snap])
    assert.deepEqual(await x.fail('VDI.create', { SR: sr, virtual_size: 1, type: 'cbt_metadata' }), [
      'VDI_INCOMPATIBLE_TYPE',
      '',
      'cbt_metadata',
    ])
    assert.equal((await x.fail('VDI.create', { SR: sr, type: 'user' }))[0], 'INTERNAL_ERROR')
  })

  it('VBD and VIF create/plug/unplug/destroy check devices and power state', async () => {
    const vm = sim.pool.vms.get('web-01') ?? ''
    const vdi = (await x.call('VDI.create', {
      name_label: 'hot',
      SR: sr,
      virtual_size: 1,
      type: 'user',
    })) as string
    const vbdArgs = {
      VM: vm,
      VDI: vdi,
      userdevice: '0',
      bootable: false,
      mode: 'RW',
      type: 'Disk',
      empty: false,
    }
    assert.deepEqual(await x.fail('VBD.create', vbdArgs), ['DEVICE_ALREADY_EXISTS', '0'])
    const vbd = (await x.call('VBD.create', { ...vbdArgs, userdevice: 'autodetect' })) as string
    assert.equal(await x.call('VBD.get_userdevice', vbd), '2')
    assert.equal(await x.call('VBD.get_currently_attached', vbd), false)
    await x.call('VBD.plug', vbd)
    assert.deepEqual(
      [await x.call('VBD.get_currently_attached', vbd), await x.call('VBD.get_device', vbd)],
      [true, 'xvdc'],
    )
    assert.deepEqual(await x.fail('VDI.destroy', vdi), ['VDI_IN_USE', vdi, 'destroy'])
    assert.deepEqual(await x.fail('VBD.plug', vbd), ['DEVICE_ALREADY_ATTACHED', vbd])
    await x.call('VBD.unplug', vbd)
    await x.call('VBD.destroy', vbd)
    assert.deepEqual(
      await x.fail('VBD.create', { ...vbdArgs, empty: true, VDI: 'OpaqueRef:NULL', userdevice: '5' }),
      ['VBD_NOT_REMOVABLE_MEDIA', 'in constructor'],
    )
    const vif = (await x.call('VIF.create', {
      device: '3',
      network: net,
      VM: sim.pool.vms.get('archive'),
      MAC: '',
      MTU: 1500,
    })) as string
    assert.match((await x.call('VIF.get_MAC', vif)) as string, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
    assert.ok(
      ((await x.call('network.get_VIFs', net)) as string[]).includes(vif),
      "((await x.call('network.get_VIFs', net)) as string[]).includes(vif)",
    )
    assert.deepEqual(await x.fail('VIF.plug', vif), [
      'VM_BAD_POWER_STATE',
      sim.pool.vms.get('archive'),
      'running',
      'halted',
    ])
    await x.call('VIF.destroy', vif)
    assert.ok(
      !((await x.call('network.get_VIFs', net)) as string[]).includes(vif),
      "!((await x.call('network.get_VIFs', net)) as string[]).includes(vif)",
    )
  })

  it('VM.copy, VM.checkpoint and VM.clone follow XAPI field rules', async () => {
    const halted = sim.pool.vms.get('build-agent') ?? ''
    const source = await rec('VM', halted)
    const copy = await rec(
      'VM',
      (await x.call('VM.copy', halted, 'copy', sim.pool.srs.get('Shared NFS'))) as string,
    )
    assert.equal(copy.is_a_snapshot, false)
    assert.notEqual((copy.other_config as Rec).mac_seed, (source.other_config as Rec).mac_seed)
    const copyVdi = (await x.call('VBD.get_VDI', (copy.VBDs as string[])[0])) as string
    assert.equal(await x.call('VDI.get_SR', copyVdi), sim.pool.srs.get('Shared NFS'))
    const sourceVif = await rec('VIF', (source.VIFs as string[])[0] ?? '')
    assert.notEqual((await rec('VIF', (copy.VIFs as string[])[0] ?? '')).MAC, sourceVif.MAC)
    const running = sim.pool.vms.get('db-01') ?? ''
    const checkpoint = await rec('VM', (await x.call('VM.checkpoint', running, 'cp')) as string)
    assert.deepEqual(
      [checkpoint.power_state, checkpoint.is_a_snapshot, checkpoint.snapshot_of],
      ['Suspended', true, running],
    )
    assert.equal(await x.call('VDI.get_type', checkpoint.suspend_VDI), 'suspend')
    assert.deepEqual(await x.fail('VM.checkpoint', halted, 'no'), [
      'VM_BAD_POWER_STATE',
      halted,
      'paused, suspended, running',
      'halted',
    ])
    assert.deepEqual(await x.fail('VM.clone', running, 'no'), [
      'VM_BAD_POWER_STATE',
      running,
      'halted',
      'running',
    ])
    await x.call('VM.set_is_a_template', halted, true)
    assert.deepEqual(await x.fail('VM.start', halted, false, false), ['VM_IS_TEMPLATE', halted, 'start'])
    await x.call('VM.set_is_a_template', halted, false)
    assert.deepEqual(await x.fail('VM.set_is_a_template', running, true), [
      'VM_BAD_POWER_STATE',
      running,
      'halted',
      'running',
    ])
  })

  it('validating setters and host calls', async () => {
    const vm = sim.pool.vms.get('archive') ?? ''
    assert.deepEqual(await x.fail('VM.set_ha_restart_priority', vm, 'always'), [
      'INVALID_VALUE',
      'ha_restart_priority',
      'always',
    ])
    await x.call('VM.set_ha_restart_priority', vm, 'restart')
    assert.deepEqual(await x.fail('VM.set_memory_limits', vm, 4, 1, 2, 3), [
      'MEMORY_CONSTRAINT_VIOLATION_ORDER',
    ])
    await x.call('VM.set_memory_limits', vm, 1, 4, 2, 3)
    assert.equal(await x.call('VM.get_memory_dynamic_max', vm), 3)
    assert.deepEqual(
      await x.call('VM.get_allowed_VBD_devices', vm).then((d) => (d as string[]).slice(0, 2)),
      ['2', '3'],
    )
    assert.match(
      (await x.call('host.get_servertime', sim.pool.master)) as string,
      /^\d{8}T\d{2}:\d{2}:\d{2}Z$/,
    )
    assert.deepEqual(await x.fail('VM.add_to_blocked_operations', vm, 'fly', 'x'), [
      'FIELD_TYPE_ERROR',
      'key',
    ])
  })

  it('a booted guest answers the health-check xenstore key and reports PV drivers as configured', async () => {
    const vm = sim.pool.vms.get('archive') ?? ''
    await x.call('VM.add_to_xenstore_data', vm, 'vm-data/xo-backup-health-check', 'planned')
    await x.call('VM.start', vm, false, false)
    assert.equal(
      ((await x.call('VM.get_xenstore_data', vm)) as Rec)['vm-data/xo-backup-health-check'],
      'success',
    )
    assert.equal(
      await x.call('VM_guest_metrics.get_PV_drivers_detected', await x.call('VM.get_guest_metrics', vm)),
      true,
    )
    await x.call('VM.hard_shutdown', vm)
    assert.equal(await x.call('VM.get_guest_metrics', vm), 'OpaqueRef:NULL')
    const broken = await startSimulator({ guest: { pvDrivers: false, healthCheck: 'failure' } })
    try {
      const y = await jsonRpcLogin(broken)
      const other = broken.pool.vms.get('archive') ?? ''
      await y.call('VM.add_to_xenstore_data', other, 'vm-data/xo-backup-health-check', 'planned')
      await y.call('VM.start', other, false, false)
      assert.equal(
        ((await y.call('VM.get_xenstore_data', other)) as Rec)['vm-data/xo-backup-health-check'],
        'failure',
      )
      assert.equal(
        await y.call('VM_guest_metrics.get_PV_drivers_detected', await y.call('VM.get_guest_metrics', other)),
        false,
      )
    } finally {
      await broken.close()
    }
  })

  it('an operation in progress shows in current_operations and blocks incompatible ones', async () => {
    const vm = sim.pool.vms.get('build-agent') ?? ''
    sim.faults.addLatency('Async.VM.clone', 3_600_000)
    try {
      const task = (await x.call('Async.VM.clone', vm, 'slow')) as string
      assert.deepEqual(await x.call('VM.get_current_operations', vm), { [task]: 'clone' })
      assert.deepEqual(await x.fail('VM.start', vm, false, false), [
        'OTHER_OPERATION_IN_PROGRESS',
        'VM',
        vm,
        'clone',
        task,
      ])
      // clone, copy and export may run together (xapi.md §2.2).
      const copy = (await x.call('VM.copy', vm, 'alongside', 'OpaqueRef:NULL')) as string
      assert.equal(await x.call('VM.get_is_a_snapshot', copy), false)
      await x.call('task.cancel', task)
      while (((await x.call('task.get_status', task)) as string) === 'cancelling')
        await new Promise(setImmediate)
      assert.deepEqual(await x.call('VM.get_current_operations', vm), {})
      assert.equal(await x.call('task.get_status', task), 'cancelled')
    } finally {
      sim.faults.reset()
    }
  })
})
