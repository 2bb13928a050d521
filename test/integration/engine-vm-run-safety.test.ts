// What a VM run guarantees whatever happens (xen-orchestra-backups.md §3.1, §7, §12.1): refusals,
// migration blocked then restored, a failing target dropped with a warning, every target failing
// as an AggregateError, an offline VM started again, and vmTimeout enforced without a timed wait.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { AllTargetsFailedError, VmRunError } from '../../src/engine/vm-run/vm-run-error.ts'
import { FakeTarget } from '../../src/engine/vm-run/testing/fake-target.ts'
import { manualClock, simSources } from '../../src/engine/vm-run/testing/sim-sources.ts'
import type { VmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'
import { JOB, snapshotsOf, startVmRunFixture } from '../../src/engine/vm-run/testing/vm-run-fixture.ts'
import { formatXapiDateTime } from '../../src/shared/timestamps.ts'

const TIMEOUT = { timeout: 120_000 }
const REASON = 'VM migration is blocked during backup'

describe('VM run, safety', () => {
  let f: VmRunFixture
  beforeEach(async () => {
    f = await startVmRunFixture()
  })
  afterEach(async () => {
    await f.close()
  })

  const blocked = (vm: string) => f.sim.db.get('VM', f.vmRef(vm)).blocked_operations as Record<string, string>
  const power = (vm: string) => f.sim.db.get('VM', f.vmRef(vm)).power_state
  const codeOf = (error: unknown) => (error as { code?: unknown }).code

  it('blocks migration during the run and restores it after, keeping an admin block', TIMEOUT, async () => {
    await f.xapi.call('VM.add_to_blocked_operations', [f.vmRef('web'), 'migrate_send', 'maintenance'])
    let during: Record<string, string> = {}
    let refusal: unknown
    const target = new FakeTarget({
      id: 'A',
      onTransfer: async () => {
        during = { ...blocked('web') }
        refusal = await f.xapi
          .call('VM.assert_operation_valid', [f.vmRef('web'), 'pool_migrate'])
          .catch((e: unknown) => e)
      },
    })
    assert.equal((await f.run({ vm: 'web', targets: [target] })).error, undefined)
    assert.deepEqual(during, { pool_migrate: REASON, migrate_send: 'maintenance' })
    assert.equal(codeOf(refusal), 'OPERATION_BLOCKED')
    assert.deepEqual(blocked('web'), { migrate_send: 'maintenance' })
  })

  it('one target failing is dropped with a warning; the other goes on', TIMEOUT, async () => {
    const a = new FakeTarget({ id: 'A', failAt: { transfer: new Error('remote A is full') } })
    const b = new FakeTarget({ id: 'B' })
    const outcome = await f.run({ vm: 'web', targets: [a, b] })
    assert.equal(outcome.error, undefined)
    assert.deepEqual(outcome.result?.targets, ['remote B'])
    assert.deepEqual(
      outcome.tree.warnings.map((w) => [w.message, w.data?.id, w.data?.step]),
      [
        [
          "remote A failed at transfer and is left out of the rest of this VM's run: remote A is full",
          'A',
          'transfer',
        ],
      ],
    )
    const exports = outcome.tree.tasks.filter((t) => t.message === 'export')
    assert.deepEqual(
      exports.map((t) => [t.data?.id, t.status]),
      [
        ['A', 'failure'],
        ['B', 'success'],
      ],
    )
    assert.deepEqual(a.calls, ['beforeBackup', 'prepare', 'transfer', 'afterBackup'])
    assert.deepEqual(b.calls, ['beforeBackup', 'prepare', 'transfer', 'cleanup', 'afterBackup'])
    assert.equal(b.backups.length, 1)
    const [snapshot] = snapshotsOf(f, 'web')
    assert.equal(
      (f.sim.db.get('VM', snapshot ?? '').other_config as Record<string, string>)['xo:backup:exported'],
      'true',
    )
    assert.deepEqual(blocked('web'), {})
  })

  it(
    'every target failing fails the VM with an AggregateError of every cause, migration restored',
    TIMEOUT,
    async () => {
      const causeA = new Error('A: no space')
      const causeB = new Error('B: lock lost')
      const a = new FakeTarget({ id: 'A', failAt: { beforeBackup: causeA } })
      const b = new FakeTarget({ id: 'B', failAt: { transfer: causeB } })
      const outcome = await f.run({ vm: 'web', targets: [a, b] })
      assert.ok(
        outcome.error instanceof AllTargetsFailedError,
        'outcome.error instanceof AllTargetsFailedError',
      )
      assert.ok(outcome.error instanceof AggregateError, 'outcome.error instanceof AggregateError')
      assert.deepEqual(outcome.error.errors, [causeA, causeB])
      assert.equal(outcome.error.code, 'VM_ALL_TARGETS_FAILED')
      assert.match(
        outcome.error.message,
        /remote A at beforeBackup: A: no space; remote B at transfer: B: lock lost/,
      )
      assert.equal(outcome.tree.status, 'failure')
      assert.deepEqual(a.calls, ['beforeBackup', 'afterBackup'])
      assert.deepEqual(b.calls, ['beforeBackup', 'prepare', 'transfer', 'afterBackup'])
      assert.deepEqual(blocked('web'), {})
      assert.deepEqual(snapshotsOf(f, 'web'), [], 'the unexported snapshot is not kept (retention 0)')
    },
  )

  it('refuses a VM this job created and a VM being migrated, touching nothing', TIMEOUT, async () => {
    const target = new FakeTarget({ id: 'A' })
    await f.xapi.call('VM.add_to_other_config', [f.vmRef('db'), 'xo:backup:job', JOB.id])
    await f.xapi.call('VM.add_to_blocked_operations', [f.vmRef('db'), 'start', 'replica'])
    const replica = await f.run({ vm: 'db', targets: [target] })
    assert.ok(replica.error instanceof VmRunError, 'replica.error instanceof VmRunError')
    assert.equal(replica.error.code, 'VM_CREATED_BY_JOB')
    assert.match(replica.error.message, /was created by this job/)

    f.sim.db.update('VM', f.vmRef('web'), { current_operations: { 'OpaqueRef:migration': 'pool_migrate' } })
    const moving = await f.run({ vm: 'web', targets: [target] })
    assert.equal(codeOf(moving.error), 'VM_MIGRATING')
    assert.match(String(moving.error), /is being migrated/)
    assert.deepEqual(target.calls, [])
    assert.deepEqual(snapshotsOf(f, 'db'), [])
    assert.deepEqual(snapshotsOf(f, 'web'), [])
    assert.deepEqual(blocked('web'), {})
  })

  it(
    'offline backup shuts the VM down, dates the snapshot by the clock, and restarts it even when the export fails',
    TIMEOUT,
    async () => {
      const clock = manualClock(Date.UTC(2026, 5, 1, 12, 30, 15))
      const seen: unknown[] = []
      const watch = () => {
        seen.push(power('web'))
      }
      const ok = new FakeTarget({ id: 'A', onTransfer: watch })
      const first = await f.run({ vm: 'web', targets: [ok], clock, settings: { offlineBackup: true } })
      assert.equal(first.error, undefined)
      const [snapshot] = snapshotsOf(f, 'web')
      const tags = f.sim.db.get('VM', snapshot ?? '').other_config as Record<string, string>
      assert.equal(tags['xo:backup:datetime'], formatXapiDateTime(clock.now()))
      assert.equal(ok.backups[0]?.timestampMs, clock.now())
      assert.equal(power('web'), 'Running')

      const failing = new FakeTarget({
        id: 'A',
        onTransfer: () => {
          watch()
          throw new Error('broken pipe')
        },
      })
      const second = await f.run({ vm: 'web', targets: [failing], settings: { offlineBackup: true } })
      assert.ok(
        second.error instanceof AllTargetsFailedError,
        'second.error instanceof AllTargetsFailedError',
      )
      assert.deepEqual(seen, ['Halted', 'Halted'])
      assert.equal(power('web'), 'Running')
    },
  )

  it(
    'vmTimeout aborts a stuck export; snapshot handling, restart, unblock and afterBackup still happen',
    TIMEOUT,
    async () => {
      const clock = manualClock()
      const [system] = f.disks('web')
      const sources = simSources(f.sim, { stallLiveVdi: system?.ref ?? '' })
      const target = new FakeTarget({ id: 'A' })
      const running = f.run({
        vm: 'web',
        targets: [target],
        sources,
        clock,
        settings: { vmTimeout: 60_000, offlineBackup: true },
      })
      await sources.stalled
      assert.equal(power('web'), 'Halted')
      assert.deepEqual(Object.keys(blocked('web')).sort(), ['migrate_send', 'pool_migrate'])
      clock.fire()
      const outcome = await running
      assert.ok(outcome.error instanceof VmRunError, 'outcome.error instanceof VmRunError')
      assert.equal(outcome.error.code, 'VM_RUN_TIMEOUT')
      assert.match(outcome.error.message, /exceeded vmTimeout \(60000 ms\) during export/)
      assert.equal(power('web'), 'Running')
      assert.deepEqual(blocked('web'), {})
      assert.deepEqual(target.calls, ['beforeBackup', 'prepare', 'transfer', 'afterBackup'])
      assert.deepEqual(snapshotsOf(f, 'web'), [], 'the unexported snapshot was removed')
      assert.deepEqual(
        [...sources.closed].sort(),
        sources.opened.map((o) => o.vdiRef).sort(),
        'every export was closed',
      )
    },
  )

  it('vmTimeout 0 starts no timer', TIMEOUT, async () => {
    const clock = manualClock()
    const outcome = await f.run({ vm: 'db', targets: [new FakeTarget({ id: 'A' })], clock })
    assert.equal(outcome.error, undefined)
    const pending = await Promise.race([clock.sleeping.then(() => 'sleeping'), Promise.resolve('idle')])
    assert.equal(pending, 'idle')
  })
})
