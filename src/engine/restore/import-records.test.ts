import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  IMPORTING_BLOCKED_OPERATIONS,
  planVbdCreate,
  planVdiCreate,
  planVifCreate,
  planVifDevices,
  planVmCreate,
  stringMap,
  stringSet,
} from './import-records.ts'

const overrides = {
  nameLabel: 'new',
  tags: ['a', 'a', 'b'],
  otherConfig: { k: 'v' },
  blockedOperations: IMPORTING_BLOCKED_OPERATIONS,
}

describe('planVmCreate', () => {
  it('copies configuration fields of the right type, never refs, snapshot or template state', () => {
    const record = planVmCreate(
      {
        uuid: 'u', name_label: 'old', name_description: 'desc', power_state: 'Running', is_a_template: true,
        is_a_snapshot: true, snapshot_of: 'OpaqueRef:src', affinity: 'OpaqueRef:host', suspend_VDI: 'OpaqueRef:vdi',
        ha_always_run: true, VCPUs_max: 4, VCPUs_at_startup: 2, memory_static_max: 2 ** 31, memory_dynamic_max: '12',
        platform: { acpi: '1', bad: 3 }, VBDs: ['OpaqueRef:vbd'], blocked_operations: { destroy: 'no', start: 'old' },
        HVM_boot_params: null, has_vendor_device: 'yes', domain_type: 'pvh',
      },
      overrides,
    ) // prettier-ignore
    assert.equal(record.name_label, 'new')
    assert.equal(record.name_description, 'desc')
    assert.equal(record.is_a_template, false)
    assert.equal(record.is_a_snapshot, false)
    assert.equal(record.ha_always_run, false)
    assert.equal(record.affinity, 'OpaqueRef:NULL')
    assert.equal(record.VCPUs_max, 4)
    assert.equal(record.memory_static_max, 2 ** 31)
    // A string where a number belongs is dropped; three of four memory fields missing: all get the one given.
    for (const field of [
      'memory_static_min',
      'memory_dynamic_min',
      'memory_dynamic_max',
      'memory_static_max',
    ])
      assert.equal(record[field], 2 ** 31, field)
    assert.equal(record.VCPUs_at_startup, 2)
    assert.deepEqual(record.platform, { acpi: '1' })
    assert.deepEqual(record.HVM_boot_params, {}, 'a null map is an empty one')
    assert.equal(record.has_vendor_device, undefined)
    assert.equal(record.domain_type, 'pvh')
    assert.deepEqual(record.tags, ['a', 'b'])
    assert.deepEqual(record.other_config, { k: 'v' })
    assert.deepEqual(record.blocked_operations, {
      destroy: 'no',
      start: 'Importing…',
      start_on: 'Importing…',
    })
    for (const field of ['uuid', 'power_state', 'snapshot_of', 'suspend_VDI', 'VBDs'])
      assert.equal(record[field], undefined, `${field} is the pool's own`)
  })

  it('gives an almost empty record (XO metadata of a snapshot) the fields VM.create requires', () => {
    const record = planVmCreate({ uuid: 'u', is_a_snapshot: true, actions_after_crash: 'explode' }, overrides)
    assert.deepEqual(
      [record.user_version, record.VCPUs_max, record.VCPUs_at_startup, record.affinity, record.is_a_template],
      [1, 1, 1, 'OpaqueRef:NULL', false],
    )
    for (const field of [
      'memory_static_min',
      'memory_dynamic_min',
      'memory_dynamic_max',
      'memory_static_max',
    ])
      assert.equal(record[field], 1024 ** 3, field)
    assert.deepEqual(
      [record.actions_after_shutdown, record.actions_after_reboot, record.actions_after_crash],
      ['destroy', 'restart', 'restart'],
    )
    for (const field of [
      'name_description',
      'PV_bootloader',
      'PV_kernel',
      'HVM_boot_policy',
      'PCI_bus',
      'recommendations',
    ])
      assert.equal(record[field], '', field)
    assert.deepEqual([record.platform, record.HVM_boot_params, record.VCPUs_params], [{}, {}, {}])
  })
})

describe('planVmCreate: memory and vCPUs', () => {
  const GiB = 1024 ** 3
  const cases: [string, Record<string, unknown>, number[], number[]][] = [
    ['all four, ordered: kept', { memory_static_min: GiB, memory_dynamic_min: 2 * GiB, memory_dynamic_max: 3 * GiB, memory_static_max: 4 * GiB }, [GiB, 2 * GiB, 3 * GiB, 4 * GiB], [1, 1]],
    ['out of order: the largest for all', { memory_static_min: 4 * GiB, memory_dynamic_min: GiB, memory_dynamic_max: GiB, memory_static_max: 2 * GiB }, [4 * GiB, 4 * GiB, 4 * GiB, 4 * GiB], [1, 1]],
    ['negative or zero: ignored', { memory_static_min: -1, memory_dynamic_min: 0, memory_dynamic_max: 0.5, memory_static_max: 'x' }, [GiB, GiB, GiB, GiB], [1, 1]],
    ['vCPUs: max only', { VCPUs_max: 8 }, [GiB, GiB, GiB, GiB], [8, 8]],
    ['vCPUs: at startup only', { VCPUs_at_startup: 3 }, [GiB, GiB, GiB, GiB], [3, 3]],
    ['vCPUs: at startup above max', { VCPUs_max: 2, VCPUs_at_startup: 4 }, [GiB, GiB, GiB, GiB], [4, 4]],
  ] // prettier-ignore
  for (const [name, vm, memory, vcpus] of cases)
    it(name, () => {
      const record = planVmCreate(vm, overrides)
      assert.deepEqual(
        [
          record.memory_static_min,
          record.memory_dynamic_min,
          record.memory_dynamic_max,
          record.memory_static_max,
        ],
        memory,
      )
      assert.deepEqual([record.VCPUs_max, record.VCPUs_at_startup], vcpus)
    })
})

describe('planVdiCreate, planVbdCreate, planVifCreate', () => {
  it('a VDI on the target SR, writable, without the source SR backend data', () => {
    const record = planVdiCreate(
      { name_label: 'sys', type: 'suspend', read_only: true, sharable: true, sm_config: { 'vhd-parent': 'x' }, tags: ['t', 1], xenstore_data: { a: 'b' } },
      { srRef: 'OpaqueRef:sr', virtualSizeBytes: 4096, otherConfig: { o: 'c' } },
    ) // prettier-ignore
    assert.deepEqual(record, {
      name_label: 'sys', name_description: '', SR: 'OpaqueRef:sr', virtual_size: 4096, type: 'user', sharable: true,
      read_only: false, other_config: { o: 'c' }, xenstore_data: { a: 'b' }, sm_config: {}, tags: ['t'],
    }) // prettier-ignore
  })

  it('a disk VBD keeps its userdevice, bootable flag and mode; a bad userdevice is autodetected', () => {
    const vbd = planVbdCreate({ userdevice: '3', bootable: true, mode: 'RO', type: 'CD', VDI: 'OpaqueRef:old' }, { vmRef: 'OpaqueRef:vm', vdiRef: 'OpaqueRef:vdi' })
    assert.deepEqual([vbd.VM, vbd.VDI, vbd.userdevice, vbd.bootable, vbd.mode, vbd.type, vbd.empty], ['OpaqueRef:vm', 'OpaqueRef:vdi', '3', true, 'RO', 'Disk', false])
    for (const bad of ['../x', 'xvda', '', 7, '12345'])
      assert.equal(planVbdCreate({ userdevice: bad }, { vmRef: 'v', vdiRef: 'd' }).userdevice, 'autodetect', String(bad))
  }) // prettier-ignore

  it('a VIF keeps a valid MAC unless new MACs are asked; MTU and locking mode are checked', () => {
    const vif = { MAC: '96:12:34:56:78:9a', MTU: 9000, locking_mode: 'locked', ipv4_allowed: ['10.0.0.1', 3] }
    const kept = planVifCreate(vif, { vmRef: 'v', networkRef: 'n', device: '2', newMac: false })
    assert.deepEqual([kept.MAC, kept.MTU, kept.device, kept.network, kept.locking_mode, kept.ipv4_allowed], ['96:12:34:56:78:9a', 9000, '2', 'n', 'locked', ['10.0.0.1']])
    assert.equal(planVifCreate(vif, { vmRef: 'v', networkRef: 'n', device: '0', newMac: true }).MAC, '')
    const bad = planVifCreate({ MAC: 'not a mac', MTU: -5, locking_mode: 'open' }, { vmRef: 'v', networkRef: 'n', device: '0', newMac: false })
    assert.deepEqual([bad.MAC, bad.MTU, bad.locking_mode], ['', 1500, 'network_default'])
  }) // prettier-ignore
})

describe('planVifDevices', () => {
  it('keeps free devices, gives the others the lowest free numbers, never one twice', () => {
    const devices = planVifDevices({
      a: { device: '1' },
      b: {},
      c: { device: '1' },
      d: { device: 'eth0' },
      e: { device: '0' },
    })
    assert.deepEqual(Object.fromEntries(devices), { a: '1', e: '0', b: '2', c: '3', d: '4' })
  })
})

describe('stringMap, stringSet', () => {
  it('keep strings only', () => {
    assert.deepEqual(stringMap({ a: 'x', b: null, c: 1 }), { a: 'x' })
    for (const bad of [null, 'x', ['a'], 3]) assert.deepEqual(stringMap(bad), {})
    assert.deepEqual(stringSet(['a', 'a', 1, null, 'b']), ['a', 'b'])
    assert.deepEqual(stringSet('a'), [])
  })
})
