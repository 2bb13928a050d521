import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LooseRecord, TargetNetworks } from './network-mapping.ts'
import { matchVifNetwork, planNetworkMapping } from './network-mapping.ts'

const POOL: TargetNetworks = {
  networks: [
    { ref: 'OpaqueRef:backup', uuid: 'bbbbbbbb-0000-4000-8000-000000000001', nameLabel: 'Backup', vlan: 100 },
    { ref: 'OpaqueRef:other', uuid: 'cccccccc-0000-4000-8000-000000000001', nameLabel: 'Other', vlan: -1 },
    { ref: 'OpaqueRef:mgmt', uuid: 'aaaaaaaa-0000-4000-8000-000000000001', nameLabel: 'Pool-wide', vlan: -1 },
    {
      ref: 'OpaqueRef:storage',
      uuid: 'dddddddd-0000-4000-8000-000000000001',
      nameLabel: 'Storage',
      vlan: 20,
    },
    {
      ref: 'OpaqueRef:private',
      uuid: 'eeeeeeee-0000-4000-8000-000000000001',
      nameLabel: 'Private',
      vlan: undefined,
    },
  ],
  defaultRef: 'OpaqueRef:mgmt',
}

describe('matchVifNetwork: uuid, ref, name + VLAN, VLAN, default', () => {
  const cases: [string, LooseRecord, TargetNetworks, [string, string] | undefined][] = [
    ['the recorded network uuid', { $network$uuid: 'DDDDDDDD-0000-4000-8000-000000000001', network: 'OpaqueRef:backup' }, POOL, ['OpaqueRef:storage', 'uuid']],
    ['the ref when the uuid is absent (same pool, older metadata)', { network: 'OpaqueRef:other' }, POOL, ['OpaqueRef:other', 'ref']],
    ['the ref when the recorded uuid is of another pool', { $network$uuid: 'ffffffff-0000-4000-8000-000000000001', network: 'OpaqueRef:backup' }, POOL, ['OpaqueRef:backup', 'ref']],
    ['same name on the same VLAN', { network: 'OpaqueRef:gone', $network$name_label: 'Storage', $network$VLAN: 20 }, POOL, ['OpaqueRef:storage', 'name-and-vlan']],
    ['same name without a recorded VLAN', { $network$name_label: 'Backup' }, POOL, ['OpaqueRef:backup', 'name-and-vlan']],
    ['same name on another VLAN is not a name match: first of the VLAN', { $network$name_label: 'Backup', $network$VLAN: 20 }, POOL, ['OpaqueRef:storage', 'vlan']],
    ['untagged: the default network before another untagged one', { $network$name_label: 'Gone', $network$VLAN: -1 }, POOL, ['OpaqueRef:mgmt', 'vlan']],
    ['untagged without a default: the first untagged network', { $network$VLAN: -1 }, { ...POOL, defaultRef: undefined }, ['OpaqueRef:other', 'vlan']],
    ['an unknown VLAN: the default network', { $network$name_label: 'Gone', $network$VLAN: 300 }, POOL, ['OpaqueRef:mgmt', 'default']],
    ['nothing recorded: the default network', {}, POOL, ['OpaqueRef:mgmt', 'default']],
    ['mistyped fields are ignored', { $network$uuid: 42, network: ['x'], $network$VLAN: '20', $network$name_label: null }, POOL, ['OpaqueRef:mgmt', 'default']],
    ['nothing matches and no default', { $network$VLAN: 300 }, { ...POOL, defaultRef: undefined }, undefined],
  ] // prettier-ignore
  for (const [name, vif, pool, want] of cases)
    it(name, () => {
      const got = matchVifNetwork(vif, pool)
      assert.deepEqual(got === undefined ? undefined : [got.networkRef, got.match], want)
    })
})

describe('planNetworkMapping', () => {
  it('maps every VIF by its key', () => {
    const plan = planNetworkMapping({ a: { network: 'OpaqueRef:other' }, b: { $network$VLAN: 100 } }, POOL)
    assert.deepEqual(Object.fromEntries(plan), {
      a: { networkRef: 'OpaqueRef:other', match: 'ref' },
      b: { networkRef: 'OpaqueRef:backup', match: 'vlan' },
    })
  })

  it('names the VIF and its network when nothing matches', () => {
    assert.throws(
      () =>
        planNetworkMapping(
          {
            'OpaqueRef:v': {
              uuid: '31313131-4242-4353-8464-575757575757',
              device: '1',
              $network$uuid: '68686868-7979-4a8a-9b9b-acacacacacac',
              $network$name_label: 'DMZ',
              $network$VLAN: 300,
            },
          },
          { networks: [], defaultRef: undefined },
        ),
      (error: Error & { code?: string }) =>
        error.code === 'RESTORE_NETWORK_UNMAPPED' &&
        error.message.includes('VIF 31313131-4242-4353-8464-575757575757 (device 1)') &&
        error.message.includes('"DMZ" 68686868-7979-4a8a-9b9b-acacacacacac VLAN 300'),
    )
  })

  it('an empty VIF set maps to nothing, even on a pool without networks', () => {
    assert.equal(planNetworkMapping({}, { networks: [], defaultRef: undefined }).size, 0)
  })
})
