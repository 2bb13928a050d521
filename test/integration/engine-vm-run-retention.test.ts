// Snapshot retention of the VM run against the simulator (xen-orchestra-backups.md §3.1 "Snapshot
// retention"): N per schedule, the next base always kept, leftovers of interrupted runs removed,
// snapshots that are not this job's (or not consistently tagged) left alone.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { AllTargetsFailedError } from '../../src/engine/vm-run/vm-run-error.ts'
import { FakeTarget } from '../../src/engine/vm-run/testing/fake-target.ts'
import type { VmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'
import { JOB, snapshotsOf, startVmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'

const HOUR = 3_600_000
const TIMEOUT = { timeout: 120_000 }
const S1 = '11111111-1111-4111-8111-111111111111'
const S2 = '22222222-2222-4222-8222-222222222222'

describe('VM run, snapshot retention', () => {
  let f: VmRunFixture
  beforeEach(async () => {
    f = await startVmRunFixture()
  })
  afterEach(async () => {
    await f.close()
  })

  const scheduleOf = (snapshot: string): string =>
    (f.sim.db.get('VM', snapshot).other_config as Record<string, string>)['xo:backup:schedule'] ?? '?'
  /** Snapshot VDIs of the db VM's disk still in the pool. */
  const diskSnapshots = (): number => {
    const [disk] = f.disks('db')
    return f.sim.db.select('VDI', (r) => r.snapshot_of === disk?.ref).length
  }

  it(
    'keeps snapshotRetention snapshots per schedule, and the newest exported one always',
    TIMEOUT,
    async () => {
      const target = new FakeTarget({ id: 'A' })
      const retention = new Map([
        [S1, 2],
        [S2, 1],
      ])
      const run = async (scheduleId: string) => {
        const outcome = await f.run({
          vm: 'db',
          targets: [target],
          scheduleId,
          settings: { snapshotRetention: retention.get(scheduleId) ?? 0 },
          snapshotRetentionOf: (id) => retention.get(id) ?? 0,
        })
        assert.equal(outcome.error, undefined)
        f.advance(HOUR)
        return snapshotsOf(f, 'db')
      }
      await run(S1)
      await run(S1)
      const three = await run(S1)
      assert.equal(three.length, 2, 'S1 keeps 2')
      const s1Kept = [...three]
      await run(S2)
      const mixed = await run(S2)
      assert.deepEqual(mixed.map(scheduleOf), [S1, S1, S2])
      assert.deepEqual(mixed.slice(0, 2), s1Kept, "S2's runs leave S1's snapshots alone")
      assert.equal(diskSnapshots(), 3, 'the VDIs of destroyed snapshots are destroyed too')

      // Retention 0 for S1: its older snapshots go, but its new one is the next base and stays.
      retention.set(S1, 0)
      const last = await run(S1)
      assert.deepEqual(last.map(scheduleOf), [S2, S1])
      assert.equal(diskSnapshots(), 2)
    },
  )

  it(
    'after a failed export the last exported snapshot stays as the base, the failed one goes',
    TIMEOUT,
    async () => {
      const good = new FakeTarget({ id: 'A' })
      assert.equal((await f.run({ vm: 'db', targets: [good] })).error, undefined)
      const [s1] = snapshotsOf(f, 'db')
      f.advance(HOUR)
      const failing = new FakeTarget({ id: 'A', failAt: { transfer: new Error('disk full') } })
      const failed = await f.run({ vm: 'db', targets: [failing] })
      assert.ok(
        failed.error instanceof AllTargetsFailedError,
        'failed.error instanceof AllTargetsFailedError',
      )
      assert.deepEqual(snapshotsOf(f, 'db'), [s1])
      f.advance(HOUR)
      assert.equal((await f.run({ vm: 'db', targets: [good] })).error, undefined)
      const [disk] = f.disks('db')
      assert.ok(disk !== undefined, 'disk !== undefined')
      assert.notEqual(
        good.backups[1]?.disks[0]?.baseSnapshotVdiUuid,
        undefined,
        'the third run chains on the first',
      )
      assert.deepEqual(good.contentOf(disk.uuid), f.sim.storage.readAll(disk.ref))
    },
  )

  it('removes leftover temporary snapshots and leaves other snapshots alone', TIMEOUT, async () => {
    const vm = f.vmRef('db')
    const leftover = await f.xapi.call('VM.snapshot', [vm, 'xo-backup-temp-snapshot-name'])
    const manual = await f.xapi.call('VM.snapshot', [vm, 'before upgrade'])
    // Tagged as this job's, but its disk says another datetime: inconsistent, so never touched.
    const forged = await f.xapi.call('VM.snapshot', [vm, 'forged'])
    const tags = {
      'xo:backup:job': JOB.id,
      'xo:backup:vm': f.vmUuid('db'),
      'xo:backup:schedule': S1,
      'xo:backup:datetime': '20200101T00:00:00Z',
    }
    for (const [key, value] of Object.entries(tags))
      await f.xapi.call('VM.add_to_other_config', [forged, key, value])
    const forgedVbd = (f.sim.db.get('VM', forged).VBDs as string[])[0] ?? ''
    const forgedVdi = f.sim.db.get('VBD', forgedVbd).VDI as string
    for (const [key, value] of Object.entries({ ...tags, 'xo:backup:datetime': '20200102T00:00:00Z' }))
      await f.xapi.call('VDI.add_to_other_config', [forgedVdi, key, value])
    const leftoverVdis = (f.sim.db.get('VM', leftover).VBDs as string[]).map(
      (vbd) => f.sim.db.get('VBD', vbd).VDI,
    )

    const outcome = await f.run({ vm: 'db', targets: [new FakeTarget({ id: 'A' })] })
    assert.equal(outcome.error, undefined)
    assert.equal(f.sim.db.find('VM', leftover), undefined)
    for (const vdi of leftoverVdis) assert.equal(f.sim.db.find('VDI', vdi as string), undefined)
    assert.notEqual(f.sim.db.find('VM', manual), undefined)
    assert.notEqual(f.sim.db.find('VM', forged), undefined)
    assert.notEqual(f.sim.db.find('VDI', forgedVdi), undefined)
    const ignored = outcome.tree.infos.find((i) => i.message.startsWith('inconsistent snapshots'))
    assert.match(JSON.stringify(ignored?.data), /datetime or schedule differs/)
    assert.ok(
      outcome.tree.infos.some((i) => i.message === 'old and leftover snapshots removed'),
      "outcome.tree.infos.some((i) => i.message === 'old and leftover snapshots removed')",
    )
  })
})
