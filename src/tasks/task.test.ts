import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import { MemorySink } from './sinks/memory-sink.ts'
import { runJob, runRootTask } from './task.ts'
import { runScriptedJob, VM } from './testing/scripted-job.ts'
import type { TaskTreeNode } from './tree.ts'
import { buildTaskTrees, runStatus } from './tree.ts'

/** The shape of a tree without ids and times: what the seed's "Task logs" section specifies. */
function shape(node: TaskTreeNode): unknown {
  return {
    ...(node.message === undefined ? {} : { message: node.message }),
    ...(node.data === undefined ? {} : { data: node.data }),
    status: node.status,
    ...(node.result === undefined ? {} : { result: node.result }),
    ...(node.warnings.length === 0 ? {} : { warnings: node.warnings.map((w) => w.message) }),
    ...(node.tasks.length === 0 ? {} : { tasks: node.tasks.map(shape) }),
  }
}

const vmTask = (id: string, status: string, tasks?: unknown[]) => ({
  data: { type: 'VM', id },
  status,
  ...(tasks === undefined ? {} : { tasks }),
})

describe('task log', () => {
  it("produces the seed's backup tree, and an unfinished task makes the run interrupted", async () => {
    const sink = new MemorySink()
    const { done, release } = runScriptedJob(sink)
    await new Promise((resolve) => setImmediate(resolve))
    const crashed = buildTaskTrees(sink.events, { final: true }).roots
    assert.equal(crashed.length, 1)
    const job = crashed[0] as TaskTreeNode
    assert.equal(job.kind, 'job')
    assert.deepEqual(job.data, { mode: 'delta', reportWhen: 'failure' })
    assert.deepEqual(job.infos, [{ timestamp: job.start, message: 'vms', data: { vms: Object.values(VM) } }])
    const exportOk = {
      message: 'export',
      data: { type: 'remote', id: 'nfs-1', isFull: false },
      status: 'success',
      tasks: [
        {
          message: 'transfer',
          status: 'success',
          result: { size: 3 * 1024 ** 3 },
          warnings: ['VDI 2 was resized since the last backup: forcing a full'],
        },
        { message: 'merge', status: 'success', result: { size: 512 * 1024 ** 2 } },
      ],
    }
    const snapshot = { message: 'snapshot', status: 'success', result: `${VM.ok}-snapshot` }
    assert.deepEqual(shape(job), {
      data: { mode: 'delta', reportWhen: 'failure' },
      status: 'interrupted',
      warnings: ['remote nfs-1 is 91% full'],
      tasks: [
        vmTask(VM.ok, 'success', [snapshot, exportOk]),
        vmTask(VM.failing, 'failure', [
          { message: 'snapshot', status: 'success', result: `${VM.failing}-snapshot` },
          {
            message: 'export',
            data: { type: 'remote', id: 'nfs-1', isFull: false },
            status: 'failure',
            tasks: [{ message: 'transfer', status: 'failure' }],
          },
        ]),
        vmTask(VM.skipped, 'skipped'),
        vmTask(VM.hanging, 'interrupted', [
          { message: 'snapshot', status: 'success', result: `${VM.hanging}-snapshot` },
          {
            message: 'export',
            data: { type: 'remote', id: 'nfs-1', isFull: false },
            status: 'interrupted',
            tasks: [{ message: 'transfer', status: 'interrupted' }],
          },
        ]),
      ],
    })
    assert.equal(runStatus(job), 'interrupted')
    assert.deepEqual(job.tasks.map(runStatus), ['success', 'failure', 'skipped', 'interrupted'])
    // A live view of the same events says pending, not interrupted.
    assert.equal(runStatus(sink.trees().roots[0] as TaskTreeNode), 'pending')

    release()
    assert.deepEqual(await done, ['fulfilled', 'rejected', 'rejected', 'fulfilled'])
    const finished = buildTaskTrees(sink.events).roots[0] as TaskTreeNode
    assert.equal(finished.status, 'success', "the job's own end")
    assert.equal(runStatus(finished), 'failure', 'a failed VM fails the run')
  })

  it('records the error with code and cause on the failed task and its parents', async () => {
    const sink = new MemorySink()
    const { done, release } = runScriptedJob(sink)
    release()
    await done
    const job = buildTaskTrees(sink.events).roots[0] as TaskTreeNode
    const transfer = job.tasks[1]?.tasks[1]?.tasks[0]
    assert.deepEqual(transfer?.error, {
      name: 'BackupError',
      message: 'connection reset by XAPI',
      code: 'TRANSFER_FAILED',
      cause: { name: 'Error', message: 'ECONNRESET' },
    })
    assert.equal(job.tasks[1]?.error?.code, 'TRANSFER_FAILED', 'rethrown to the VM task')
    assert.deepEqual(job.tasks[2]?.error, {
      name: 'TaskSkipped',
      message: 'no disks found',
      code: 'TASK_SKIPPED',
    })
  })

  it('orders events with ids, parent ids and clock timestamps', async () => {
    const sink = new MemorySink()
    const clock = createFixedClock(1000)
    await runJob({ sink, clock }, { mode: 'full' }, async (job) => {
      clock.advance(5)
      await job.run({ message: 'snapshot' }, () => {
        clock.advance(10)
        return Promise.resolve()
      })
    })
    const [start, taskStart, taskEnd, end] = sink.events
    assert.equal(start?.event, 'job.start')
    assert.equal(taskStart?.event === 'task.start' && taskStart.parentId, start.id)
    assert.equal(taskEnd?.id, taskStart?.id)
    assert.deepEqual(
      sink.events.map((e) => [e.event, e.timestamp]),
      [
        ['job.start', 1000],
        ['task.start', 1005],
        ['task.end', 1015],
        ['job.end', 1015],
      ],
    )
    assert.equal(end?.event === 'job.end' && end.status, 'success')
  })

  it('retried steps that succeed do not fail the run', async () => {
    const sink = new MemorySink()
    await runRootTask({ sink }, { message: 'restore' }, async (task) => {
      await task.run({ message: 'transfer' }, () => Promise.reject(new Error('reset'))).catch(() => undefined)
      task.warning('retrying the transfer', { attempt: 2 })
      await task.run({ message: 'transfer' }, () => Promise.resolve({ id: 'vm-ref', size: 10 }))
    })
    const root = buildTaskTrees(sink.events).roots[0] as TaskTreeNode
    assert.equal(root.parentId, undefined)
    assert.deepEqual(
      root.tasks.map((t) => t.status),
      ['failure', 'success'],
    )
    assert.equal(runStatus(root), 'success')
  })

  it('children inherit the abort signal; an aborted job ends in failure', async () => {
    const sink = new MemorySink()
    const controller = new AbortController()
    await assert.rejects(
      runJob({ sink, signal: controller.signal }, { mode: 'full' }, async (job) => {
        await job.run({ data: { type: 'VM', id: VM.ok } }, async (vm) => {
          assert.equal(vm.signal.aborted, false)
          controller.abort(new Error('user cancelled'))
          assert.equal(vm.signal.aborted, true)
          await vm.run({ message: 'snapshot' }, () => Promise.resolve())
        })
      }),
      /user cancelled/,
    )
    const job = buildTaskTrees(sink.events).roots[0] as TaskTreeNode
    assert.equal(job.tasks[0]?.tasks.length, 1, 'the snapshot task started and failed at once')
    assert.equal(job.tasks[0].tasks[0]?.status, 'failure')
    assert.equal(runStatus(job), 'failure')
  })

  it('rate-limits progress but always emits completion', async () => {
    const sink = new MemorySink()
    const clock = createFixedClock(0)
    await runRootTask({ sink, clock }, { message: 'transfer' }, (task) => {
      for (let done = 0; done <= 100; done += 10) {
        task.progress(done, 100)
        clock.advance(300)
      }
      return Promise.resolve()
    })
    const progress = sink.events.filter((e) => e.event === 'task.progress').map((e) => e.done)
    assert.deepEqual(progress, [0, 40, 80, 100])
  })

  it('ignores non-JSON return values as results unless mapped', async () => {
    const sink = new MemorySink()
    await runRootTask({ sink }, { message: 'x' }, () => Promise.resolve(new Map([[1, 2]])))
    await runRootTask({ sink }, { message: 'y' }, () => Promise.resolve(new Map([[1, 2]])), {
      result: (m) => ({ entries: m.size }),
    })
    const [x, y] = buildTaskTrees(sink.events).roots
    assert.equal(x?.result, undefined)
    assert.deepEqual(y?.result, { entries: 1 })
  })
})
