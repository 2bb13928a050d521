// The VM run in delta mode against the simulator (xen-orchestra-backups.md §3.1–3.2): chaining
// over the job's exported snapshot, checkBaseVdis intersection, fullInterval, new and resized
// disks, [NOBAK] disks, and the seed's snapshot attributes.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { FakeTarget } from '../../src/engine/vm-run/testing/fake-target.ts'
import { simSources } from '../../src/engine/vm-run/testing/sim-sources.ts'
import type { VmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'
import {
  JOB,
  MiB,
  SCHEDULE,
  snapshotsOf,
  startVmRunFixture,
} from '../../src/engine/vm-run/testing/vm-run-fixture.ts'
import { formatXapiDateTime, parseXapiDateTime } from '../../src/shared/timestamps.ts'

const HOUR = 3_600_000
const TIMEOUT = { timeout: 120_000 }

describe('VM run, delta mode', () => {
  let f: VmRunFixture
  beforeEach(async () => {
    f = await startVmRunFixture()
  })
  afterEach(async () => {
    await f.close()
  })

  /** The snapshot disks of snapshot VM `ref`: live VDI ref → snapshot VDI ref. */
  const snapshotDisks = (ref: string | undefined): Map<string, string> => {
    assert.ok(ref !== undefined, 'a snapshot')
    const vbds = (f.sim.db.get('VM', ref).VBDs as string[]).map((vbd) => f.sim.db.get('VBD', vbd))
    return new Map(
      vbds
        .filter((vbd) => vbd.type === 'Disk')
        .map((vbd) => [f.sim.db.get('VDI', vbd.VDI as string).snapshot_of as string, vbd.VDI as string]),
    )
  }
  const uuidOf = (cls: 'VM' | 'VDI', ref: string | undefined): string =>
    f.sim.db.get(cls, ref ?? '').uuid as string
  const otherConfig = (cls: 'VM' | 'VDI', ref: string) =>
    f.sim.db.get(cls, ref).other_config as Record<string, string>
  const backupKeys = (cls: 'VM' | 'VDI', ref: string) =>
    Object.fromEntries(Object.entries(otherConfig(cls, ref)).filter(([k]) => k.startsWith('xo:backup:')))
  const webDisks = () => {
    const [system, data, scratch] = f.disks('web')
    assert.ok(
      system !== undefined && data !== undefined && scratch !== undefined,
      'system !== undefined && data !== undefined && scratch !== undefined',
    )
    return { system, data, scratch }
  }

  it('a first run is full, a second chains over the snapshot marked exported', TIMEOUT, async () => {
    const { system, data } = webDisks()
    f.write(system.ref, 0, MiB, 1)
    f.write(data.ref, 2 * MiB, 4096, 2)
    const target = new FakeTarget({ id: 'A' })
    const sources = simSources(f.sim)
    const first = await f.run({ vm: 'web', targets: [target], sources })
    assert.equal(first.error, undefined)
    const [s1] = snapshotsOf(f, 'web')
    assert.ok(s1 !== undefined, 's1 !== undefined')
    const s1Disks = snapshotDisks(s1)
    const s1Uuids = new Map([...s1Disks].map(([live, vdi]) => [live, uuidOf('VDI', vdi)]))

    f.write(system.ref, 4 * MiB + 100, 100, 3)
    f.advance(HOUR)
    const second = await f.run({ vm: 'web', targets: [target], sources })
    assert.equal(second.error, undefined)
    assert.deepEqual(target.prepared, [true, false])
    assert.deepEqual(target.calls.slice(5), [
      'beforeBackup',
      'checkBaseVdis',
      'prepare',
      'transfer',
      'cleanup',
      'afterBackup',
    ])
    assert.deepEqual(
      target.backups[1]?.disks.map((d) => [d.liveVdiUuid, d.baseSnapshotVdiUuid, [...d.blocks.keys()]]),
      [
        [system.uuid, s1Uuids.get(system.ref), [2]],
        [data.uuid, s1Uuids.get(data.ref), []],
      ],
    )
    assert.deepEqual(
      sources.opened.slice(2).map((o) => o.baseVdiRef),
      [s1Disks.get(system.ref), s1Disks.get(data.ref)],
      'the exports were asked as deltas over the previous snapshot',
    )
    // Retention 0: only the new snapshot, the next base, is left; the chain rebuilds the disk.
    const [s2, ...rest] = snapshotsOf(f, 'web')
    assert.ok(s2 !== undefined && s2 !== s1, 's2 !== undefined && s2 !== s1')
    assert.deepEqual(rest, [])
    assert.deepEqual(target.contentOf(system.uuid), f.sim.storage.readAll(system.ref))
    assert.deepEqual(target.contentOf(data.uuid), f.sim.storage.readAll(data.ref))
    assert.equal(backupKeys('VM', s2)['xo:backup:deltaChainLength'], '1')
    assert.deepEqual(
      second.tree.tasks.map((t) => [t.message, t.data, t.status, t.tasks.map((c) => c.message)]),
      [
        ['snapshot', undefined, 'success', []],
        ['export', { type: 'remote', id: 'A', isFull: false }, 'success', ['transfer']],
      ],
    )
    assert.equal(second.tree.tasks[0]?.result, uuidOf('VM', s2))
    assert.equal(second.result?.isFull, false)
  })

  it(
    'checkBaseVdis is an intersection: a base one target refuses is full for every target',
    TIMEOUT,
    async () => {
      const { system, data } = webDisks()
      const a = new FakeTarget({ id: 'A' })
      const b = new FakeTarget({ id: 'B' })
      assert.equal((await f.run({ vm: 'web', targets: [a, b] })).error, undefined)
      const s1 = snapshotDisks(snapshotsOf(f, 'web')[0])
      const refused = uuidOf('VDI', s1.get(system.ref))
      const dataBase = uuidOf('VDI', s1.get(data.ref))
      b.refuse = (base) => base === refused
      f.advance(HOUR)
      const second = await f.run({ vm: 'web', targets: [a, b] })
      assert.equal(second.error, undefined)
      for (const target of [a, b]) {
        assert.deepEqual(target.calls.slice(5, 7), ['beforeBackup', 'checkBaseVdis'])
        assert.deepEqual(target.prepared, [true, true], `${target.id}: a key backup (one disk is full)`)
        assert.deepEqual(
          target.backups[1]?.disks.map((d) => d.baseSnapshotVdiUuid),
          [undefined, dataBase],
        )
      }
      const warning = second.tree.warnings.find((w) => w.message.includes(refused))
      assert.ok(warning, 'a warning names the refused base')
      assert.match(warning.message, /disk web system .* exported whole: remote B cannot chain onto base/)
      assert.deepEqual(
        second.tree.tasks.filter((t) => t.message === 'export').map((t) => t.data),
        [
          { type: 'remote', id: 'A', isFull: true },
          { type: 'remote', id: 'B', isFull: true },
        ],
      )
    },
  )

  it(
    'fullInterval forces a full every N runs; the chain length is kept on the snapshot',
    TIMEOUT,
    async () => {
      const { system } = webDisks()
      const target = new FakeTarget({ id: 'A' })
      const lengths: string[] = []
      for (let run = 0; run < 4; run++) {
        f.write(system.ref, run * MiB, 512, run + 10)
        const outcome = await f.run({ vm: 'web', targets: [target], settings: { fullInterval: 2 } })
        assert.equal(outcome.error, undefined)
        const [snapshot] = snapshotsOf(f, 'web')
        lengths.push(
          backupKeys('VDI', snapshotDisks(snapshot).get(system.ref) ?? '')['xo:backup:deltaChainLength'] ??
            '-',
        )
        if (run === 2)
          assert.ok(
            outcome.tree.infos.some((i) =>
              i.message.includes('fullInterval 2 reached (1 deltas since its last full)'),
            ),
            "outcome.tree.infos.some((i) => i.message.includes('fullInterval 2 reached (1 deltas since its las...",
          )
        f.advance(HOUR)
      }
      assert.deepEqual(target.prepared, [true, false, true, false])
      assert.deepEqual(lengths, ['0', '1', '0', '1'])
      assert.deepEqual(target.contentOf(system.uuid), f.sim.storage.readAll(system.ref))
    },
  )

  it('a disk added or resized between runs is full, with the reason in the log', TIMEOUT, async () => {
    const { system, data } = webDisks()
    const target = new FakeTarget({ id: 'A' })
    await f.run({ vm: 'web', targets: [target] })
    const added = await f.xapi.call('VDI.clone', [data.ref, {}])
    f.write(added, 0, 1000, 7)
    await f.xapi.call('VBD.create', [
      {
        VM: f.vmRef('web'),
        VDI: added,
        userdevice: '5',
        bootable: false,
        mode: 'RW',
        type: 'Disk',
        unpluggable: true,
        empty: false,
        other_config: {},
        qos_algorithm_type: '',
        qos_algorithm_params: {},
      },
    ])
    await f.xapi.call('VDI.resize_online', [data.ref, 8 * MiB])
    f.advance(HOUR)
    const second = await f.run({ vm: 'web', targets: [target] })
    assert.equal(second.error, undefined)
    const addedUuid = uuidOf('VDI', added)
    assert.deepEqual(
      target.backups[1]?.disks.map((d) => [
        d.liveVdiUuid,
        d.baseSnapshotVdiUuid === undefined ? 'full' : 'delta',
      ]),
      [
        [system.uuid, 'delta'],
        [data.uuid, 'full'],
        [addedUuid, 'full'],
      ],
    )
    const reasons = second.tree.infos.filter((i) => i.message.includes('exported whole')).map((i) => i.data)
    assert.deepEqual(reasons, [
      { vdi: data.uuid, reason: 'resized' },
      { vdi: addedUuid, reason: 'new-disk' },
    ])
    assert.ok(
      second.tree.infos.some((i) => /resized from 4194304 to 8388608 bytes since/.test(i.message)),
      'second.tree.infos.some((i) => /resized from 4194304 to 8388608 bytes since/.test(i.message))',
    )
    assert.deepEqual(target.contentOf(addedUuid), f.sim.storage.readAll(added))
  })

  it('[NOBAK] disks are neither snapshotted nor exported', TIMEOUT, async () => {
    const { scratch } = webDisks()
    const target = new FakeTarget({ id: 'A' })
    const sources = simSources(f.sim)
    const outcome = await f.run({ vm: 'web', targets: [target], sources })
    assert.equal(outcome.error, undefined)
    const disks = snapshotDisks(snapshotsOf(f, 'web')[0])
    assert.equal(disks.size, 2)
    assert.equal(disks.has(scratch.ref), false)
    assert.equal(
      target.backups[0]?.disks.some((d) => d.liveVdiUuid === scratch.uuid),
      false,
    )
    assert.equal(sources.opened.length, 2)
    assert.deepEqual(outcome.tree.infos[0]?.data, { vdis: [scratch.uuid] })
  })

  it('the snapshot carries exactly the seed attributes, its inherited ones dropped', TIMEOUT, async () => {
    const vm = f.vmRef('web')
    // A restored VM may carry backup keys: a snapshot must not inherit `exported` or a chain length.
    await f.xapi.call('VM.add_to_other_config', [vm, 'xo:backup:deltaChainLength', '7'])
    await f.xapi.call('VM.add_to_other_config', [vm, 'xo:backup:schedule', 'old'])
    await f.xapi.call('VM.add_to_other_config', [vm, 'xo:backup:exported', 'true'])
    const target = new FakeTarget({ id: 'A' })
    assert.equal((await f.run({ vm: 'web', targets: [target] })).error, undefined)
    const [snapshot] = snapshotsOf(f, 'web')
    assert.ok(snapshot !== undefined, 'snapshot !== undefined')
    const record = f.sim.db.get('VM', snapshot)
    const datetime = formatXapiDateTime(parseXapiDateTime(record.snapshot_time as string))
    const identity = {
      'xo:backup:datetime': datetime,
      'xo:backup:job': JOB.id,
      'xo:backup:schedule': SCHEDULE,
      'xo:backup:vm': f.vmUuid('web'),
    }
    assert.deepEqual(backupKeys('VM', snapshot), {
      ...identity,
      'xo:backup:exported': 'true',
      'xo:backup:deltaChainLength': '0',
    })
    for (const vdi of snapshotDisks(snapshot).values())
      assert.deepEqual(backupKeys('VDI', vdi), {
        ...identity,
        'xo:backup:contentKey': uuidOf('VDI', vdi),
        'xo:backup:exported': 'true',
        'xo:backup:deltaChainLength': '0',
      })
    assert.equal(record.name_label, '[XO Backup nightly] web')
    assert.equal(record.is_a_template, false)
    assert.equal(target.backups[0]?.timestampMs, parseXapiDateTime(datetime))
    // The live VM is left as it was.
    const live = {
      'xo:backup:deltaChainLength': '7',
      'xo:backup:schedule': 'old',
      'xo:backup:exported': 'true',
    }
    assert.deepEqual(backupKeys('VM', vm), live)

    // A run that fails before the export: its kept snapshot must not look exported (a false base).
    f.advance(3_600_000)
    const failing = new FakeTarget({ id: 'A', failAt: { transfer: new Error('down') } })
    const failed = await f.run({ vm: 'web', targets: [failing], settings: { snapshotRetention: 2 } })
    assert.ok(failed.error instanceof Error, 'failed.error instanceof Error')
    const newest = snapshotsOf(f, 'web').at(-1) ?? ''
    assert.notEqual(newest, snapshot)
    assert.equal(backupKeys('VM', newest)['xo:backup:exported'], undefined)
    for (const vdi of snapshotDisks(newest).values())
      assert.equal(backupKeys('VDI', vdi)['xo:backup:exported'], undefined)
  })

  it(
    'on XAPI without ignore_vdis the [NOBAK] disk is removed from the snapshot afterwards',
    TIMEOUT,
    async () => {
      await f.close()
      f = await startVmRunFixture({ withoutIgnoreVdis: true })
      const { scratch } = webDisks()
      const before = f.sim.db.select('VDI', () => true).length
      const target = new FakeTarget({ id: 'A' })
      assert.equal((await f.run({ vm: 'web', targets: [target] })).error, undefined)
      const disks = snapshotDisks(snapshotsOf(f, 'web')[0])
      assert.deepEqual([...disks.keys()].includes(scratch.ref), false)
      assert.equal(
        f.sim.db.select('VDI', () => true).length,
        before + 2,
        'only the two kept disks have snapshots',
      )
    },
  )
})
