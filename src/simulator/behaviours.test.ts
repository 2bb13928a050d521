import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { RunningSimulator } from './index.ts'
import { startSimulator } from './index.ts'
import type { JsonRpcTestClient } from './testing/raw-rpc.ts'
import { jsonRpcLogin, waitTask } from './testing/raw-rpc.ts'

type Rec = Record<string, unknown>

// The control-plane behaviours of xapi.md §8.5 (1–8, 13, 14), pinned over JSON-RPC on the wire.
describe('simulator behaviours (xapi.md §8.5)', () => {
  let sim: RunningSimulator
  let x: JsonRpcTestClient
  const vm = (name: string) => sim.pool.vms.get(name) ?? ''
  const record = async (cls: string, ref: string) => (await x.call(`${cls}.get_record`, ref)) as Rec

  before(async () => {
    sim = await startSimulator()
    x = await jsonRpcLogin(sim)
  })
  after(() => sim.close())

  it('#3 VM.snapshot of a running VM: snapshot fields, disks snapshotted, ignore_vdis left out', async () => {
    const source = vm('db-01')
    await x.call('VM.add_to_other_config', source, 'team', 'dba')
    await x.call('VM.add_to_blocked_operations', source, 'migrate_send', 'backup running')
    const vbds = (await x.call('VM.get_VBDs', source)) as string[]
    const vdis = await Promise.all(vbds.map(async (vbd) => (await x.call('VBD.get_VDI', vbd)) as string))
    await x.call('VDI.add_to_other_config', vdis[0], 'xo:copy_of', 'abc')
    const snap = (await x.call('VM.snapshot', source, 'snap-1', [vdis[2]])) as string
    const s = await record('VM', snap)
    assert.equal(s.is_a_snapshot, true)
    assert.equal(s.is_a_template, true)
    assert.equal(s.snapshot_of, source)
    assert.equal(s.power_state, 'Halted')
    assert.deepEqual(s.blocked_operations, {})
    assert.deepEqual(s.tags, ['production'])
    assert.equal((s.other_config as Rec).team, 'dba')
    assert.ok(
      ((await x.call('VM.get_snapshots', source)) as string[]).includes(snap),
      "((await x.call('VM.get_snapshots', source)) as string[]).includes(snap)",
    )
    const snapVdis = await Promise.all(
      (s.VBDs as string[]).map(async (vbd) => record('VDI', (await x.call('VBD.get_VDI', vbd)) as string)),
    )
    assert.equal(snapVdis.length, 2, 'the ignored VDI has no VBD in the snapshot')
    assert.deepEqual(
      snapVdis.map((v) => v.snapshot_of),
      vdis.slice(0, 2),
    )
    assert.ok(
      snapVdis.every((v) => v.is_a_snapshot === true),
      'snapVdis.every((v) => v.is_a_snapshot === true)',
    )
    assert.equal((snapVdis[0]?.other_config as Rec)['xo:copy_of'], 'abc')
    assert.ok(
      ((await x.call('VDI.get_snapshots', vdis[0])) as string[]).length > 0,
      "((await x.call('VDI.get_snapshots', vdis[0])) as string[]).length > 0",
    )
  })

  it('#4 VM.start of a snapshot fails VM_IS_SNAPSHOT [snap, "start"]', async () => {
    const snap = (await x.call('VM.snapshot', vm('web-01'), 'snap-start')) as string
    assert.deepEqual(await x.fail('VM.start', snap, false, false), ['VM_IS_SNAPSHOT', snap, 'start'])
  })

  it('#6 VM.destroy keeps VDIs; VDI.destroy of an attached VDI is VDI_IN_USE; a detached one takes its VBDs', async () => {
    const running = vm('web-01')
    const attached = (await x.call(
      'VBD.get_VDI',
      ((await x.call('VM.get_VBDs', running)) as string[])[0],
    )) as string
    assert.deepEqual(await x.fail('VDI.destroy', attached), ['VDI_IN_USE', attached, 'destroy'])
    assert.deepEqual(await x.fail('VM.destroy', running), [
      'VM_BAD_POWER_STATE',
      running,
      'halted, suspended',
      'running',
    ])
    const halted = vm('archive')
    const h = await record('VM', halted)
    const vdis = await Promise.all(
      (h.VBDs as string[]).map(async (vbd) => (await x.call('VBD.get_VDI', vbd)) as string),
    )
    await x.call('VM.destroy', halted)
    assert.deepEqual(await x.fail('VM.get_record', halted), ['HANDLE_INVALID', 'VM', halted])
    for (const vbd of h.VBDs as string[])
      assert.deepEqual(await x.fail('VBD.get_record', vbd), ['HANDLE_INVALID', 'VBD', vbd])
    for (const vif of h.VIFs as string[])
      assert.deepEqual(await x.fail('VIF.get_record', vif), ['HANDLE_INVALID', 'VIF', vif])
    for (const vdi of vdis) assert.deepEqual((await record('VDI', vdi)).VBDs, [])
    const build = vm('build-agent')
    const vbd = ((await x.call('VM.get_VBDs', build)) as string[])[0] ?? ''
    const detached = (await x.call('VBD.get_VDI', vbd)) as string
    await x.call('VDI.destroy', detached)
    assert.deepEqual(await x.fail('VBD.get_record', vbd), ['HANDLE_INVALID', 'VBD', vbd])
    assert.deepEqual(await x.call('VM.get_VBDs', build), [])
  })

  it('#7 OPERATION_BLOCKED on a replica; its clone is startable', async () => {
    const replica = (await x.call('VM.clone', vm('build-agent'), 'replica')) as string
    await x.call('VM.add_to_blocked_operations', replica, 'start', 'replica')
    assert.deepEqual(await x.fail('VM.start', replica, false, false), [
      'OPERATION_BLOCKED',
      replica,
      'replica',
    ])
    const clone = (await x.call('VM.clone', replica, 'clone')) as string
    assert.deepEqual((await record('VM', clone)).blocked_operations, {})
    await x.call('VM.start', clone, false, false)
    assert.equal(await x.call('VM.get_power_state', clone), 'Running')
    await x.call('VM.clean_shutdown', clone)
    assert.deepEqual(await x.fail('VM.clean_shutdown', clone), [
      'VM_BAD_POWER_STATE',
      clone,
      'running',
      'halted',
    ])
  })

  it('#8 add_to_other_config of an existing key is MAP_DUPLICATE_KEY; removing a missing key succeeds', async () => {
    const ref = vm('build-agent')
    const { uuid } = await record('VM', ref)
    await x.call('VM.add_to_other_config', ref, 'k', 'v1')
    assert.deepEqual(await x.fail('VM.add_to_other_config', ref, 'k', 'v2'), [
      'MAP_DUPLICATE_KEY',
      'VM',
      'other_config',
      uuid,
      'k',
    ])
    assert.equal(await x.call('VM.remove_from_other_config', ref, 'absent'), '')
    await x.call('VM.remove_from_other_config', ref, 'k')
    assert.equal(((await x.call('VM.get_other_config', ref)) as Rec).k, undefined)
    await x.call('VM.add_tags', ref, 't1')
    await x.call('VM.add_tags', ref, 't1')
    assert.deepEqual(await x.call('VM.get_tags', ref), ['t1'])
    await x.call('VM.remove_tags', ref, 't1')
    assert.deepEqual(await x.call('VM.get_tags', ref), [])
  })

  it('#13 Async.VM.snapshot ends success with an XML-RPC-encoded result; task events add/mod/del', async () => {
    const start = (await x.call('event.inject', 'pool', sim.pool.pool)) as string
    const task = (await x.call('Async.VM.snapshot', vm('web-01'), 'async-snap')) as string
    const done = await waitTask(x, task)
    assert.equal(done.status, 'success')
    assert.equal(done.progress, 1)
    assert.match(done.result as string, /^<value>OpaqueRef:[0-9a-f-]{36}<\/value>$/)
    const snap = (done.result as string).slice(7, -8)
    assert.equal((await record('VM', snap)).snapshot_of, vm('web-01'))
    const seen = (await x.call('event.from', ['task'], start, 1)) as { events: Rec[]; token: string }
    assert.deepEqual(
      seen.events.map((e) => [e.class, e.operation, e.ref]),
      [['task', 'add', task]],
    )
    await x.call('task.destroy', task)
    const gone = (await x.call('event.from', ['task'], seen.token, 1)) as { events: Rec[] }
    assert.deepEqual(
      gone.events.map((e) => [e.operation, e.ref, 'snapshot' in e]),
      [['del', task, false]],
    )
  })

  it('#13 task.cancel ends a running Async task cancelled with ["TASK_CANCELLED", task]', async () => {
    sim.faults.addLatency('Async.VM.clone', 3_600_000)
    const task = (await x.call('Async.VM.clone', vm('build-agent'), 'never')) as string
    assert.deepEqual((await record('task', task)).allowed_operations, ['cancel'])
    await x.call('task.cancel', task)
    const done = await waitTask(x, task)
    assert.equal(done.status, 'cancelled')
    assert.deepEqual(done.error_info, ['TASK_CANCELLED', task])
    assert.deepEqual(await x.call('VM.get_by_name_label', 'never'), [])
    sim.faults.reset()
  })

  it('#14 event.from "" returns every object as add, later tokens only deltas, inject + barrier gives a pool mod', async () => {
    const all = (await x.call('event.from', ['VM', 'task'], '', 0)) as {
      events: Rec[]
      token: string
      valid_ref_counts: Rec
    }
    const vms = (await x.call('VM.get_all')) as string[]
    assert.deepEqual(new Set(all.events.filter((e) => e.class === 'vm').map((e) => e.ref)), new Set(vms))
    assert.ok(
      all.events.every((e) => e.operation === 'add' && typeof e.snapshot === 'object'),
      "all.events.every((e) => e.operation === 'add' && typeof e.snapshot === 'object')",
    )
    assert.equal(all.valid_ref_counts.vm, vms.length)
    assert.match(all.token, /^\d{20},\d{20}$/)
    const token = (await x.call('event.inject', 'pool', sim.pool.pool)) as string
    await x.call('pool.add_to_other_config', sim.pool.pool, 'xo:barrier:1', '1')
    const barrier = (await x.call('event.from', ['pool'], token, 1)) as { events: Rec[] }
    assert.deepEqual(
      barrier.events.map((e) => [e.class, e.operation]),
      [['pool', 'mod']],
    )
    assert.equal(((barrier.events[0]?.snapshot as Rec).other_config as Rec)['xo:barrier:1'], '1')
    const quiet = (await x.call('event.from', ['VM'], all.token, 0)) as { events: Rec[] }
    assert.ok(
      quiet.events.every((e) => e.operation !== 'add' || !vms.includes(e.ref as string)),
      "quiet.events.every((e) => e.operation !== 'add' || !vms.includes(e.ref as string))",
    )
    assert.deepEqual(await x.fail('event.from', ['VM'], 'garbage', 0), [
      'EVENT_FROM_TOKEN_PARSE_FAILURE',
      'garbage',
    ])
    assert.deepEqual(await x.fail('event.inject', 'VM', 'OpaqueRef:x'), [
      'HANDLE_INVALID',
      'VM',
      'OpaqueRef:x',
    ])
  })

  it('#14 a blocked event.from wakes on a mutation of a subscribed class', async () => {
    const { token } = (await x.call('event.from', ['VM'], '', 0)) as { token: string }
    const waiting = x.call('event.from', ['VM'], token, 3600)
    await x.call('VM.set_name_description', vm('web-01'), 'woken')
    const woke = (await waiting) as { events: Rec[] }
    assert.deepEqual(
      woke.events.map((e) => [e.operation, e.ref]),
      [['mod', vm('web-01')]],
    )
    assert.equal((woke.events[0]?.snapshot as Rec).name_description, 'woken')
  })
})
