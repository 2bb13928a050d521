// The VM run's plumbing: abortable reads of sources that ignore signals, the vmTimeout deadline,
// and the target set's drop rule (reference §7).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemorySink } from '../../tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../tasks/task.ts'
import { startDeadline, withSignal } from './deadline.ts'
import { abortable } from './sources.ts'
import { TargetSet } from './target-set.ts'
import { FakeTarget } from './testing/fake-target.ts'
import { manualClock } from './testing/sim-sources.ts'
import { AllTargetsFailedError } from './vm-run-error.ts'

describe('abortable', () => {
  it('stops a read that never answers as soon as the signal aborts, and says when a source ended', async () => {
    const controller = new AbortController()
    const never: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<number>>(() => undefined) }),
    }
    const reading = (async () => {
      for await (const value of abortable(never, controller.signal, () => undefined))
        assert.fail(String(value))
    })()
    controller.abort(new Error('time is up'))
    await assert.rejects(reading, /time is up/)

    let ended = false
    const values: number[] = []
    async function* two(): AsyncGenerator<number> {
      yield await Promise.resolve(1)
      yield 2
    }
    for await (const v of abortable(two(), new AbortController().signal, () => (ended = true))) values.push(v)
    assert.deepEqual(values, [1, 2])
    assert.equal(ended, true)
  })
})

describe('startDeadline', () => {
  it('aborts with VM_RUN_TIMEOUT naming the step when the clock fires, not before, and not after stop', async () => {
    const clock = manualClock()
    let step = 'snapshot'
    const deadline = startDeadline(new AbortController().signal, 1000, clock, {
      vmUuid: 'vm-1',
      step: () => step,
    })
    await clock.sleeping
    assert.equal(deadline.signal.aborted, false)
    step = 'export'
    clock.fire()
    await Promise.resolve()
    assert.equal(deadline.signal.aborted, true)
    assert.equal(deadline.expired?.code, 'VM_RUN_TIMEOUT')
    assert.match(deadline.expired.message, /vm-1 exceeded vmTimeout \(1000 ms\) during export/)

    const stopped = manualClock()
    const other = startDeadline(new AbortController().signal, 1000, stopped, {
      vmUuid: 'vm-2',
      step: () => '',
    })
    other.stop()
    stopped.fire()
    await Promise.resolve()
    assert.equal(other.signal.aborted, false)
  })

  it('withSignal gives the task and its children the deadline signal', async () => {
    const controller = new AbortController()
    const sink = new MemorySink()
    await runRootTask({ sink }, {}, async (task) => {
      const wrapped = withSignal(task, controller.signal)
      await wrapped.run({ message: 'child' }, (child) => {
        assert.equal(child.signal, controller.signal)
        return Promise.resolve()
      })
      controller.abort(new Error('stop'))
      await assert.rejects(
        wrapped.run({ message: 'late' }, () => Promise.resolve()),
        /stop/,
      )
    })
  })
})

describe('TargetSet', () => {
  it('drops a failing target with a warning and fails with every cause when none is left', async () => {
    const sink = new MemorySink()
    const a = new FakeTarget({ id: 'A' })
    const b = new FakeTarget({ id: 'B', kind: 'SR' })
    await runRootTask({ sink }, {}, async (task) => {
      const set = new TargetSet([a, b], task)
      await set.parallel('beforeBackup', (t) =>
        t === a ? Promise.reject(new Error('nope')) : Promise.resolve(),
      )
      assert.deepEqual(set.live, [b])
      const failure = await set
        .sequential('checkBaseVdis', () => Promise.reject(new Error('gone')))
        .catch((e: unknown) => e)
      assert.ok(failure instanceof AllTargetsFailedError, 'failure instanceof AllTargetsFailedError')
      assert.deepEqual(
        failure.failures.map((x) => [x.kind, x.id, x.step]),
        [
          ['remote', 'A', 'beforeBackup'],
          ['SR', 'B', 'checkBaseVdis'],
        ],
      )
    })
    const warnings = sink.trees().roots[0]?.warnings.map((w) => w.message)
    assert.deepEqual(warnings, [
      "remote A failed at beforeBackup and is left out of the rest of this VM's run: nope",
      "SR B failed at checkBaseVdis and is left out of the rest of this VM's run: gone",
    ])
  })
})
