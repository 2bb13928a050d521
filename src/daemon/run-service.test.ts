import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import type { TaskSink } from '../tasks/events.ts'
import type { RunUpdate, RunWork } from './run-service.ts'
import { RunService } from './run-service.ts'
import { openStore } from './store/open-store.ts'
import type { Store } from './store-port.ts'

const JOB_A = '0a0a0a0a-0000-4000-8000-00000000000a'
const JOB_B = '0b0b0b0b-0000-4000-8000-00000000000b'

/** A work that logs a job with one VM task and waits until released (or aborted). */
function gatedWork(): { work: RunWork; release: () => void; started: Promise<void> } {
  let release = (): void => undefined
  let markStarted = (): void => undefined
  const started = new Promise<void>((resolve) => (markStarted = resolve))
  const gate = new Promise<void>((resolve) => (release = resolve))
  const work: RunWork = async (sink: TaskSink, signal: AbortSignal) => {
    markStarted()
    sink.write({ event: 'job.start', id: 'job', timestamp: 1, data: { mode: 'delta' } })
    sink.write({
      event: 'task.start',
      id: 'vm',
      parentId: 'job',
      timestamp: 2,
      data: { type: 'VM', id: 'vm-1' },
    })
    await new Promise<void>((resolve, reject) => {
      signal.addEventListener(
        'abort',
        () => {
          reject(signal.reason as Error)
        },
        { once: true },
      )
      void gate.then(resolve)
    })
    sink.write({ event: 'task.end', id: 'vm', timestamp: 3, status: 'success', result: null })
    sink.write({ event: 'job.end', id: 'job', timestamp: 4, status: 'success' })
  }
  return { work, release, started }
}

const start = (jobId: string) => ({
  kind: 'backup' as const,
  jobId,
  scheduleId: null,
  trigger: 'manual' as const,
  params: {},
})

async function settled(runs: RunService, store: Store, id: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const status = store.getRun(id)?.status
    if (status !== 'pending' && status !== 'running') return status ?? 'missing'
    await new Promise((resolve) => setImmediate(resolve))
  }
  return `still ${store.getRun(id)?.status ?? '?'} (${runs.activeCount} active)`
}

describe('RunService', () => {
  let dir: string
  let store: Store
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'run-service-'))
    store = openStore(join(dir, 'data'), { clock: createFixedClock() })
  })
  after(async () => {
    store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('runs a job once at a time: a second start is stored as skipped, naming the run in the way', async () => {
    const runs = new RunService({ store, clock: createFixedClock() })
    const first = gatedWork()
    const a = runs.start(start(JOB_A), first.work)
    assert.ok(a.started, 'the first run starts')
    await first.started
    assert.deepEqual(
      store.getRun(a.run.id)?.vms,
      [{ uuid: 'vm-1', status: 'pending' }],
      'VMs show while running',
    )
    const b = runs.start(start(JOB_A), gatedWork().work)
    assert.equal(b.started, false)
    assert.equal(store.getRun(b.run.id)?.status, 'skipped')
    assert.match(store.getRun(b.run.id)?.reason ?? '', new RegExp(a.run.id))
    first.release()
    assert.equal(await settled(runs, store, a.run.id), 'success')
    assert.deepEqual(store.getRun(a.run.id)?.vms, [{ uuid: 'vm-1', status: 'success' }])
    assert.equal(runs.runningRunOf(JOB_A), undefined, 'the job is free again')
  })

  it('holds runs beyond the concurrency as pending; cancelling a pending one never starts it', async () => {
    const runs = new RunService({ store, clock: createFixedClock(), concurrency: 1 })
    const first = gatedWork()
    const a = runs.start(start(JOB_A), first.work)
    await first.started
    let secondStarted = false
    const b = runs.start(start(JOB_B), () => {
      secondStarted = true
      return Promise.resolve()
    })
    assert.equal(store.getRun(b.run.id)?.status, 'pending')
    assert.ok(runs.cancel(b.run.id), 'a pending run can be cancelled')
    assert.equal(await settled(runs, store, b.run.id), 'interrupted')
    assert.equal(secondStarted, false, 'the cancelled run never ran')
    first.release()
    assert.equal(await settled(runs, store, a.run.id), 'success')
  })

  it('streams events with their sequence, then the end; shutdown cancels and waits', async () => {
    const runs = new RunService({ store, clock: createFixedClock() })
    const gated = gatedWork()
    const { run } = runs.start(start(JOB_B), gated.work)
    await gated.started
    const updates: RunUpdate[] = []
    const unsubscribe = runs.subscribe(run.id, (u) => updates.push(u))
    assert.ok(unsubscribe, 'an active run can be subscribed to')
    assert.deepEqual(
      store.listRunEvents(run.id).map((e) => e.seq),
      [0, 1],
      'the events so far are stored',
    )
    await runs.shutdown()
    assert.equal(store.getRun(run.id)?.status, 'interrupted')
    const end = updates.at(-1)
    assert.equal(end?.kind, 'end')
    assert.throws(() => runs.start(start(JOB_A), gated.work), /stopping/)
  })

  it('marks runs a crashed server left as interrupted', () => {
    store.insertRun({
      ...start(JOB_A),
      id: 'c0c0c0c0-0000-4000-8000-00000000000c',
      status: 'running',
      reason: null,
      start: 5,
      end: null,
      sizeBytes: 0,
      vms: [],
    })
    const runs = new RunService({ store, clock: createFixedClock() })
    assert.equal(runs.recoverUnfinished(), 1)
    assert.equal(store.getRun('c0c0c0c0-0000-4000-8000-00000000000c')?.status, 'interrupted')
  })
})
