// XAPI behaviours replication, restore and health checks rely on, pinned in the simulator through
// the project's XAPI client (xapi.md §2.2–2.5, §3.4, §8.5 items 6–7, §8.6 health check): what XAPI
// refuses on disks and VMs in use, what it does not refuse, replicas' blocked start and their
// startable clones and copies, a health-check VM leaving nothing behind, and an upload that
// outlives its caller's session.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { startSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription, RunningSimulator } from '../../src/simulator/index.ts'
import { MiB, patternBytes } from '../../src/simulator/testing/data-plane.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { XapiError } from '../../src/xapi/xapi-error.ts'

const POOL: PoolDescription = {
  name: 'Replica pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [
    { name: 'Local', type: 'ext', sizeBytes: 1024 * MiB },
    { name: 'Health', type: 'nfs', sizeBytes: 1024 * MiB },
  ],
  networks: [{ name: 'eth0 network', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'running',
      powerState: 'Running',
      disks: [{ name: 'running disk', sizeBytes: 4 * MiB, content: { seed: 1, allocatedFraction: 1 } }],
      networks: ['eth0 network'],
    },
    {
      name: 'replica',
      powerState: 'Halted',
      tags: ['Continuous Replication'],
      blockedOperations: { start: 'Start operation for this vm is blocked, clone it if you want to use it.' },
      disks: [
        { name: 'replica system', sizeBytes: 4 * MiB, content: { seed: 2, allocatedFraction: 0.5 } },
        { name: 'replica data', sizeBytes: 2 * MiB, content: { seed: 3, allocatedFraction: 1 } },
      ],
      networks: ['eth0 network'],
    },
  ],
  defaultSr: 'Local',
}

function failsWith(expected: readonly string[]) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof XapiError, `expected XapiError ${expected[0]}, got ${String(error)}`)
    assert.deepEqual([error.code, ...error.params], expected)
    return true
  }
}

/** Resolves once `check` is true, looking after each turn of the event loop, at most `turns` times. */
async function until(check: () => boolean, what: string, turns = 100_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (check()) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  assert.fail(`never happened: ${what}`)
}

describe('simulator behaviours for replication, restore and health checks', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  const vm = (name: string): string => sim.pool.vms.get(name) ?? assert.fail(`no VM ${name}`)
  const sr = (name: string): string => sim.pool.srs.get(name) ?? assert.fail(`no SR ${name}`)
  const disksOf = (ref: string): string[] =>
    (sim.db.get('VM', ref).VBDs as string[]).map((vbd) => sim.db.get('VBD', vbd).VDI as string)
  const census = (): Record<string, number> =>
    Object.fromEntries(
      ['VM', 'VBD', 'VIF', 'VDI', 'VM_metrics', 'VM_guest_metrics'].map((cls) => [
        cls,
        sim.db.all(cls).length,
      ]),
    )

  before(async () => {
    sim = await startSimulator({ pool: POOL })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('refused while in use: VDI.destroy of a running VM\'s disk is VDI_IN_USE [vdi, "destroy"], VM.destroy of a running VM VM_BAD_POWER_STATE', async () => {
    const [disk] = disksOf(vm('running'))
    await assert.rejects(
      client.call('VDI.destroy', [disk ?? '']),
      failsWith(['VDI_IN_USE', disk ?? '', 'destroy']),
    )
    await assert.rejects(
      client.call('VM.destroy', [vm('running')]),
      failsWith(['VM_BAD_POWER_STATE', vm('running'), 'halted, suspended', 'running']),
    )
  })

  it('not refused: /import_raw_vdi onto a disk a running VM uses (XAPI lets dom0 attach it too; the caller must check)', async () => {
    const [disk] = disksOf(vm('running'))
    const data = patternBytes(11, 4 * MiB)
    const result = await client.putResource(
      '/import_raw_vdi',
      { vdi: disk ?? '', format: 'raw' },
      Readable.from([data]),
      {
        lengthBytes: data.length,
      },
    )
    assert.equal(result, disk)
    assert.deepEqual(sim.storage.readAll(disk ?? ''), data, "the running VM's disk now holds the upload")
    assert.equal(sim.db.get('VM', vm('running')).power_state, 'Running')
  })

  it('a replica with blocked start: OPERATION_BLOCKED [vm, reason]; its clone and its copy start (blocked_operations never copied)', async () => {
    const reason = 'Start operation for this vm is blocked, clone it if you want to use it.'
    await assert.rejects(
      client.call('VM.start', [vm('replica'), false, false]),
      failsWith(['OPERATION_BLOCKED', vm('replica'), reason]),
    )
    for (const made of [
      await client.call('VM.clone', [vm('replica'), 'clone']),
      await client.call('VM.copy', [vm('replica'), 'copy', 'OpaqueRef:NULL']),
    ]) {
      const record = await client.getRecord('VM', made)
      assert.deepEqual(record.blocked_operations, {})
      assert.deepEqual(record.tags, ['Continuous Replication'], 'tags are copied')
      await client.call('VM.start', [made, false, false])
      assert.equal((await client.getRecord('VM', made)).power_state, 'Running')
      await client.call('VM.hard_shutdown', [made])
      const disks = disksOf(made)
      await client.call('VM.destroy', [made])
      for (const disk of disks) await client.call('VDI.destroy', [disk])
    }
    assert.deepEqual(
      (await client.getRecord('VM', vm('replica'))).blocked_operations,
      { start: reason },
      'the replica keeps its block',
    )
  })

  it('VM.copy(vm, name, sr) puts full copies of the disks on sr; a NULL sr keeps each disk on its SR', async () => {
    const copy = await client.call('VM.copy', [vm('replica'), 'to health', sr('Health')])
    const sources = disksOf(vm('replica'))
    const copies = disksOf(copy)
    assert.equal(copies.length, sources.length)
    for (const [i, vdi] of copies.entries()) {
      const record = await client.getRecord('VDI', vdi)
      assert.equal(record.SR, sr('Health'))
      assert.equal(record.snapshot_of, 'OpaqueRef:NULL')
      assert.equal(
        sim.storage.firstDifference(vdi, sources[i] ?? ''),
        undefined,
        'same bytes as the source disk',
      )
    }
    const here = await client.call('VM.copy', [vm('replica'), 'here', 'OpaqueRef:NULL'])
    assert.deepEqual(
      await Promise.all(disksOf(here).map(async (vdi) => (await client.getRecord('VDI', vdi)).SR)),
      sources.map(() => sr('Local')),
    )
    for (const made of [copy, here]) {
      const disks = disksOf(made)
      await client.call('VM.destroy', [made])
      for (const disk of disks) await client.call('VDI.destroy', [disk])
    }
  })

  it('a health-check VM (copy, no VIFs, xenstore planned, start, tools, hard_shutdown, destroy, VDI.destroy) leaves nothing behind', async () => {
    const before = census()
    const usedBefore = (await client.getRecord('SR', sr('Health'))).physical_utilisation
    const check = await client.call('VM.copy', [vm('replica'), 'health check', sr('Health')])
    await client.call('VM.add_tags', [check, 'xo:no-bak=Health Check'])
    for (const vif of (await client.getRecord('VM', check)).VIFs) await client.call('VIF.destroy', [vif])
    await client.call('VM.set_xenstore_data', [check, { 'vm-data/xo-backup-health-check': 'planned' }])
    await client.call('VM.start', [check, false, false])
    const running = await client.getRecord('VM', check)
    const metrics = (await client.call('VM_guest_metrics.get_record', [running.guest_metrics])) as Record<
      string,
      unknown
    >
    assert.equal(metrics.PV_drivers_detected, true)
    assert.equal(running.xenstore_data['vm-data/xo-backup-health-check'], 'success')
    assert.ok(
      (await client.getRecord('SR', sr('Health'))).physical_utilisation > usedBefore,
      'the copy took room',
    )
    const disks = disksOf(check)
    await client.call('VM.hard_shutdown', [check])
    await client.call('VM.destroy', [check])
    for (const disk of disks) await client.call('VDI.destroy', [disk])
    assert.deepEqual(census(), before)
    assert.equal((await client.getRecord('SR', sr('Health'))).physical_utilisation, usedBefore)
  })

  it("an upload outlives its caller's session: sessions expired mid-/import_raw_vdi, the import completes and its VDI stays", async () => {
    const data = patternBytes(12, 4 * MiB)
    let release = (): void => undefined
    const held = new Promise<void>((resolve) => (release = resolve))
    async function* body(): AsyncGenerator<Uint8Array> {
      yield data.subarray(0, MiB)
      await held
      yield data.subarray(MiB)
    }
    const vdis = new Set(sim.db.all('VDI').map(([ref]) => ref))
    const upload = client.putResource('/import_raw_vdi', { sr_id: sr('Local'), format: 'raw' }, body(), {
      lengthBytes: data.length,
    })
    await until(
      () => sim.db.select('VDI', (r) => r.name_label === 'Imported VDI').length > 0,
      'the import made its VDI',
    )
    sim.faults.expireSessions()
    assert.equal(sim.db.all('session').length, 0)
    release()
    // XAPI's handler works with its own pool session once the caller is authenticated; the client
    // logs in again to read the task's result.
    const made = (await upload) as string
    assert.ok(!vdis.has(made), 'a VDI made by this import')
    assert.deepEqual(sim.storage.readAll(made), data)
    await client.call('VDI.destroy', [made])
  })
})
