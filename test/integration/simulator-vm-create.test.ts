// VM.create, VDI.create, VBD.create and VIF.create from records the way restore and replication
// send them (xapi.md §2.3–2.6, §8.6 CR/restore): XAPI's constructors read only the rw and ctor
// fields of a record (gen_server.ml), fail on a missing mandatory one, and `xapi_vm.ml create`
// makes a Halted VM with a new uuid, no devices and no blocked operations whatever the record says.
// Through the project's XAPI client.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription, RunningSimulator } from '../../src/simulator/index.ts'
import { MiB } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import type { XapiValue } from '../../src/xapi/types.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

const POOL: PoolDescription = {
  name: 'Create pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [{ name: 'Local', type: 'ext', sizeBytes: 1024 * MiB }],
  networks: [{ name: 'eth0 network', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'source',
      powerState: 'Running',
      vcpus: 2,
      memoryBytes: 2048 * MiB,
      tags: ['production'],
      otherConfig: { team: 'dba' },
      disks: [{ name: 'source system', sizeBytes: 4 * MiB }],
      networks: ['eth0 network'],
    },
  ],
}

type Rec = Record<string, XapiValue>

function failsWith(expected: readonly string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof XapiError, `expected XapiError ${expected[0]}, got ${String(error)}`)
    assert.deepEqual([error.code, ...error.params], expected)
    return true
  }
}

describe('simulator VM.create and device constructors from records', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let snapshotRecord: Rec
  let snapshot: string
  const network = (): string => sim.pool.networks.get('eth0 network') ?? assert.fail('no network')
  const sr = (): string => sim.pool.srs.get('Local') ?? assert.fail('no SR')
  const raw = async (cls: string, ref: string): Promise<Rec> =>
    (await client.call(`${cls}.get_record`, [ref])) as Rec

  before(async () => {
    sim = await startSimulator({ pool: POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
    snapshot = await client.call('VM.snapshot', [sim.pool.vms.get('source') ?? '', 'backup'])
    snapshotRecord = await raw('VM', snapshot)
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it("a snapshot's whole record: rw and ctor fields taken, read-only ones ignored, a Halted VM with a new uuid and no devices", async () => {
    assert.equal(snapshotRecord.is_a_snapshot, true)
    const vm = (await client.call('VM.create', [
      {
        ...snapshotRecord,
        is_a_template: false,
        name_label: '[Importing…] source',
        tags: ['Continuous Replication'],
        other_config: { 'xo:copy_of': snapshotRecord.uuid as string },
        blocked_operations: { start: 'Importing…', start_on: 'Importing…' },
        // Read-only fields XAPI never reads, whatever they hold.
        domid: 'not a number',
        VBDs: 'not a set',
        resident_on: 42,
        bogus_field: { x: 1 },
      },
    ])) as string
    const created = await raw('VM', vm)
    assert.notEqual(created.uuid, snapshotRecord.uuid)
    assert.equal(created.power_state, 'Halted')
    assert.deepEqual([created.VBDs, created.VIFs, created.snapshots, created.children], [[], [], [], []])
    assert.deepEqual(
      [created.is_a_snapshot, created.snapshot_of, created.is_a_template, created.parent],
      [false, 'OpaqueRef:NULL', false, 'OpaqueRef:NULL'],
    )
    assert.equal(created.name_label, '[Importing…] source')
    assert.deepEqual(created.tags, ['Continuous Replication'])
    assert.equal((created.other_config as Rec)['xo:copy_of'], snapshotRecord.uuid)
    assert.match(
      (created.other_config as Rec).mac_seed as string,
      /^[0-9a-f-]{36}$/,
      'a mac_seed is added when absent',
    )
    assert.deepEqual(
      [created.memory_static_max, created.VCPUs_max, created.domid, created.resident_on],
      [2048 * MiB, 2, -1, 'OpaqueRef:NULL'],
    )
    assert.notEqual(created.metrics, snapshotRecord.metrics, 'its own VM_metrics')
    assert.deepEqual(
      created.blocked_operations,
      {},
      'VM.create ignores blocked_operations (xapi_vm.ml create)',
    )
    await client.call('VM.set_blocked_operations', [vm, { start: 'Importing…', start_on: 'Importing…' }])
    await assert.rejects(
      client.call('VM.start', [vm, false, false]),
      failsWith(['OPERATION_BLOCKED', vm, 'Importing…']),
    )
    await client.call('VM.destroy', [vm])
  })

  it('a mandatory field missing fails Dispatcher_FieldNotFound; name_label has a default; a rw field of the wrong type fails FIELD_TYPE_ERROR', async () => {
    const { user_version: _dropped, ...withoutVersion } = snapshotRecord
    await assert.rejects(
      client.call('VM.create', [withoutVersion]),
      failsWith(['INTERNAL_ERROR', 'Server_helpers.Dispatcher_FieldNotFound("user_version")']),
    )
    const { name_label: _name, name_description: _description, ...unnamed } = snapshotRecord
    const vm = await client.call('VM.create', [{ ...unnamed, is_a_template: false }])
    assert.equal((await raw('VM', vm)).name_label, '')
    await client.call('VM.destroy', [vm])
    await assert.rejects(
      client.call('VM.create', [{ ...snapshotRecord, memory_static_max: 'lots' }]),
      failsWith(['FIELD_TYPE_ERROR', 'memory_static_max']),
    )
    await assert.rejects(
      client.call('VM.create', [{}]),
      (error: unknown) => error instanceof XapiError && error.code === 'INTERNAL_ERROR',
    )
  })

  it('power_state: Running refused, Halted with a suspend_VDI refused, Suspended needs its suspend image and boot record', async () => {
    await assert.rejects(
      client.call('VM.create', [{ ...snapshotRecord, power_state: 'Running' }]),
      failsWith([
        'VM_BAD_POWER_STATE',
        'Bad power state for VM creation ',
        'running',
        ' should be `Halted or `Suspended',
      ]),
    )
    const vdi = await client.call('VDI.create', [
      {
        name_label: 'image',
        SR: sr(),
        virtual_size: 2 * MiB,
        type: 'suspend',
        sharable: false,
        read_only: false,
        other_config: {},
      },
    ])
    await assert.rejects(
      client.call('VM.create', [{ ...snapshotRecord, suspend_VDI: vdi }]),
      failsWith(['VM_BAD_POWER_STATE', 'No suspend_VDI should be provided if VM created in `Halted state']),
    )
    await assert.rejects(
      client.call('VM.create', [{ ...snapshotRecord, power_state: 'Suspended', suspend_VDI: vdi }]),
      failsWith([
        'VM_BAD_POWER_STATE',
        'VM created in `Suspended state needs a suspend_VDI, non empty last_booted_record and non empty last_boot_CPU_flags',
      ]),
    )
    const suspended = (await client.call('VM.create', [
      {
        ...snapshotRecord,
        is_a_template: false,
        power_state: 'Suspended',
        suspend_VDI: vdi,
        last_booted_record: '(record)',
        last_boot_CPU_flags: { vendor: 'x' },
      },
    ])) as string
    assert.deepEqual(
      [(await raw('VM', suspended)).power_state, (await raw('VM', suspended)).suspend_VDI],
      ['Suspended', vdi],
    )
    await client.call('VM.hard_shutdown', [suspended])
    const halted = await raw('VM', suspended)
    assert.deepEqual([halted.power_state, halted.suspend_VDI], ['Halted', 'OpaqueRef:NULL'])
    await assert.rejects(
      client.getRecord('VDI', vdi),
      failsWith(['HANDLE_INVALID', 'VDI', vdi]),
      'hard_shutdown of a suspended VM destroys its suspend image',
    )
    await client.call('VM.destroy', [suspended])
  })

  it('VDI.create, VBD.create and VIF.create records as restore sends them; an empty MAC comes from the mac_seed, an explicit one is kept', async () => {
    const seed = 'e2bd2ea3-0a57-4d0c-8b7e-3c5f6a1e9d01'
    const vm = await client.call('VM.create', [
      { ...snapshotRecord, is_a_template: false, name_label: 'restored', other_config: { mac_seed: seed } },
    ])
    assert.equal(((await raw('VM', vm)).other_config as Rec).mac_seed, seed, 'a given mac_seed is kept')
    const vdi = await client.call('VDI.create', [
      {
        name_label: 'source system', name_description: '', SR: sr(), virtual_size: 4 * MiB, type: 'system', sharable: false,
        read_only: false, other_config: { 'xo:copy_of': 'abc' }, xenstore_data: {}, sm_config: {}, tags: ['t'],
      },
    ]) // prettier-ignore
    const vdiRecord = await raw('VDI', vdi)
    assert.deepEqual(
      [vdiRecord.SR, vdiRecord.virtual_size, vdiRecord.type, vdiRecord.tags],
      [sr(), 4 * MiB, 'system', ['t']],
    )
    const vbdArgs = {
      VM: vm, VDI: vdi, userdevice: '0', bootable: true, mode: 'RW', type: 'Disk', unpluggable: false, empty: false,
      other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {},
    } // prettier-ignore
    const vbd = (await client.call('VBD.create', [vbdArgs])) as string
    assert.deepEqual([(await raw('VBD', vbd)).currently_attached, (await raw('VM', vm)).VBDs], [false, [vbd]])
    await assert.rejects(client.call('VBD.create', [vbdArgs]), failsWith(['DEVICE_ALREADY_EXISTS', '0']))
    const vifArgs = (device: string, mac: string) => ({
      device, network: network(), VM: vm, MAC: mac, MTU: 1500, other_config: {}, qos_algorithm_type: '',
      qos_algorithm_params: {}, locking_mode: 'network_default', ipv4_allowed: [], ipv6_allowed: [],
    }) // prettier-ignore
    const generated = await raw('VIF', (await client.call('VIF.create', [vifArgs('0', '')])) as string)
    assert.deepEqual([generated.MAC, generated.MAC_autogenerated], ['be:06:75:8e:61:a0', true])
    const three = await raw('VIF', (await client.call('VIF.create', [vifArgs('3', '')])) as string)
    assert.equal(three.MAC, 'c6:01:5a:8b:c1:5a', 'each device its own MAC from the same seed')
    const kept = await raw(
      'VIF',
      (await client.call('VIF.create', [vifArgs('1', '12:34:56:78:9a:bc')])) as string,
    )
    assert.deepEqual([kept.MAC, kept.MAC_autogenerated], ['12:34:56:78:9a:bc', false])
    await assert.rejects(
      client.call('VIF.create', [vifArgs('1', '')]),
      failsWith(['DEVICE_ALREADY_EXISTS', '1']),
    )
    await assert.rejects(
      client.call('VIF.create', [vifArgs('2', 'zz:zz')]),
      failsWith(['MAC_INVALID', 'zz:zz']),
    )
    await assert.rejects(
      client.call('VIF.create', [vifArgs('eth0', '')]),
      failsWith(['INVALID_DEVICE', 'eth0']),
    )
    await assert.rejects(
      client.call('VIF.create', [vifArgs('99999', '')]),
      failsWith(['INVALID_DEVICE', '99999']),
    )
    // A clone gets a new mac_seed, so new MACs; they come from it.
    const clone = await client.call('VM.clone', [vm, 'clone'])
    const cloneRecord = await raw('VM', clone)
    const cloneVifs = await Promise.all((cloneRecord.VIFs as string[]).map(async (ref) => raw('VIF', ref)))
    assert.notEqual((cloneRecord.other_config as Rec).mac_seed, seed)
    assert.ok(
      cloneVifs.every((v) => v.MAC !== generated.MAC && v.MAC !== kept.MAC && v.MAC_autogenerated === true),
      'clone VIFs have new, generated MACs',
    )
  })
})
