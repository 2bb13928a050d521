import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createFixedClock } from '../../shared/clock.ts'
import type { TaskEvent } from '../../tasks/events.ts'
import { createSqliteStore, DATABASE_FILE, openStoreDatabase } from './open-store.ts'
import { DEFAULT_RUN_PAGE, MAX_RUN_PAGE } from './run-store.ts'
import { openSecretFile } from './secret-file.ts'
import { sampleJob, sampleRun, sampleSchedule, storeErrorOf, tempDir, tempStore } from './store-test-kit.ts'
import { keepForever } from './native-handles.ts'

const info = (id: string, message: string): TaskEvent => ({ event: 'task.info', id, timestamp: 1, message })

describe('store: runs', () => {
  it('round-trips a run, refuses a second insert of its id, and patches only the given fields', (t) => {
    const { store } = tempStore(t)
    const run = sampleRun('r1', 'j1', 1000, {
      status: 'running',
      end: null,
      params: { vms: ['a'], force: true },
    })
    store.insertRun(run)
    assert.deepEqual(store.getRun('r1'), run)
    assert.equal(
      storeErrorOf(() => {
        store.insertRun(run)
      }).code,
      'STORE_CONFLICT',
    )
    const vms = [{ uuid: 'a', status: 'failure', error: 'boom' }] as const
    store.updateRun('r1', { status: 'failure', reason: 'boom', end: 9000, sizeBytes: 77, vms })
    assert.deepEqual(store.getRun('r1'), {
      ...run,
      status: 'failure',
      reason: 'boom',
      end: 9000,
      sizeBytes: 77,
      vms,
    })
    store.updateRun('r1', { reason: null })
    assert.deepEqual(store.getRun('r1'), {
      ...run,
      status: 'failure',
      reason: null,
      end: 9000,
      sizeBytes: 77,
      vms,
    })
    assert.equal(
      storeErrorOf(() => {
        store.updateRun('nope', { status: 'success' })
      }).code,
      'STORE_NOT_FOUND',
    )
    assert.equal(
      storeErrorOf(() => {
        store.updateRun('nope', {})
      }).code,
      'STORE_NOT_FOUND',
    )
    assert.equal(store.getRun('nope'), undefined)
  })

  it('lists newest first with filters, paging and the total of the filter', (t) => {
    const { store } = tempStore(t)
    // Runs 0..9 alternate between two jobs; runs 4 and 5 share a start (the id breaks the tie).
    for (let i = 0; i < 10; i++) {
      const start = i === 5 ? 4000 : i * 1000
      store.insertRun(
        sampleRun(`r${i}`, i % 2 === 0 ? 'a' : 'b', start, { status: i < 3 ? 'failure' : 'success' }),
      )
    }
    const ids = (page: { items: readonly { id: string }[] }): string[] => page.items.map((r) => r.id)
    const all = store.listRuns()
    assert.equal(all.total, 10)
    assert.deepEqual(ids(all), ['r9', 'r8', 'r7', 'r6', 'r5', 'r4', 'r3', 'r2', 'r1', 'r0'])
    const paged = [0, 3, 6, 9].flatMap((offset) => ids(store.listRuns({ limit: 3, offset })))
    assert.deepEqual(paged, ids(all), 'pages neither overlap nor skip, even on equal starts')
    assert.deepEqual(store.listRuns({ limit: 3, offset: 9 }), { items: [all.items[9]], total: 10 })
    const jobA = store.listRuns({ jobId: 'a' })
    assert.deepEqual([ids(jobA), jobA.total], [['r8', 'r6', 'r4', 'r2', 'r0'], 5])
    const failed = store.listRuns({ status: 'failure', limit: 1 })
    assert.deepEqual([ids(failed), failed.total], [['r2'], 3])
    const both = store.listRuns({ jobId: 'b', status: 'failure' })
    assert.deepEqual([ids(both), both.total], [['r1'], 1])
    assert.deepEqual(store.listRuns({ jobId: 'none' }), { items: [], total: 0 })
  })

  it('pages by DEFAULT_RUN_PAGE, caps the limit at MAX_RUN_PAGE and ignores nonsense', (t) => {
    const dataDir = tempDir(t)
    const db = openStoreDatabase(join(dataDir, DATABASE_FILE))
    const store = createSqliteStore(db, openSecretFile(join(dataDir, 'secrets.json')), createFixedClock())
    t.after(() => {
      store.close()
    })
    db.transaction(() => {
      for (let i = 0; i < MAX_RUN_PAGE + 10; i++) store.insertRun(sampleRun(`r${i}`, 'j', i))
    })()
    assert.equal(store.listRuns().items.length, DEFAULT_RUN_PAGE)
    assert.equal(store.listRuns({ limit: 100_000 }).items.length, MAX_RUN_PAGE)
    assert.equal(store.listRuns({ limit: -5, offset: -5 }).items.length, 0)
    assert.equal(store.listRuns({ limit: Number.NaN }).items.length, DEFAULT_RUN_PAGE)
  })

  it('gives the newest run of each job (ties by id), deleted jobs included, none for runs without a job', (t) => {
    const { store } = tempStore(t)
    store.insertRun(sampleRun('a1', 'a', 1000))
    store.insertRun(sampleRun('a2', 'a', 3000))
    store.insertRun(sampleRun('a3', 'a', 2000))
    store.insertRun(sampleRun('b1', 'b', 5000))
    store.insertRun(sampleRun('b2', 'b', 5000))
    store.insertRun(sampleRun('c1', 'c', 100, { status: 'running', end: null }))
    store.insertRun(sampleRun('x1', null, 9000, { kind: 'restore' }))
    assert.deepEqual(
      store.lastRunPerJob().map((r) => r.id),
      ['b2', 'a2', 'c1'],
    )
  })

  it('lists unfinished runs (pending, running) oldest first', (t) => {
    const { store } = tempStore(t)
    store.insertRun(sampleRun('done', 'a', 1))
    store.insertRun(sampleRun('late', 'a', 300, { status: 'running', end: null }))
    store.insertRun(sampleRun('early', 'b', 200, { status: 'pending', end: null }))
    store.insertRun(sampleRun('missed', 'b', 250, { status: 'missed', reason: 'server down' }))
    assert.deepEqual(
      store.listUnfinishedRuns().map((r) => r.id),
      ['early', 'late'],
    )
  })

  it('lists the first page of 10,000 runs from an index', (t) => {
    const dataDir = tempDir(t)
    const db = openStoreDatabase(join(dataDir, DATABASE_FILE))
    const store = createSqliteStore(db, openSecretFile(join(dataDir, 'secrets.json')), createFixedClock())
    t.after(() => {
      store.close()
    })
    const statuses = ['success', 'failure', 'skipped'] as const
    db.transaction(() => {
      for (let i = 0; i < 10_000; i++) {
        const id = `r${String(i).padStart(5, '0')}`
        store.insertRun(
          sampleRun(id, `job-${i % 20}`, 1_000_000 + i * 1000, { status: statuses[i % 3] ?? 'success' }),
        )
      }
    })()
    const first = store.listRuns({ limit: 25 })
    assert.equal(first.total, 10_000)
    assert.deepEqual([first.items.length, first.items[0]?.id, first.items[24]?.id], [25, 'r09999', 'r09975'])
    const job = store.listRuns({ jobId: 'job-7', limit: 10, offset: 10 })
    assert.deepEqual([job.total, job.items[0]?.id], [500, 'r09787'])
    assert.equal(store.lastRunPerJob().length, 20)
    // No timing: the plans must walk an index in order instead of sorting every row.
    const plan = (sql: string, ...params: unknown[]): string =>
      (keepForever(db.prepare(`EXPLAIN QUERY PLAN ${sql}`)).all(...params) as { detail: string }[])
        .map((r) => r.detail)
        .join('\n')
    for (const [sql, params] of [
      ['SELECT * FROM runs ORDER BY start_ms DESC, id DESC LIMIT 25', []],
      ['SELECT * FROM runs WHERE job_id = ? ORDER BY start_ms DESC, id DESC LIMIT 25', ['job-7']],
      ['SELECT * FROM runs WHERE status = ? ORDER BY start_ms DESC, id DESC LIMIT 25', ['failure']],
    ] as const) {
      const text = plan(sql, ...params)
      assert.doesNotMatch(text, /TEMP B-TREE/, `${sql} sorts: ${text}`)
      assert.match(text, /USING INDEX/, `${sql} uses no index: ${text}`)
    }
  })
})

describe('store: run events and checkpoints', () => {
  it('appends events with seq continuing across calls and lists them from a seq', (t) => {
    const { store } = tempStore(t)
    store.insertRun(sampleRun('r1', 'j1', 1000))
    store.insertRun(sampleRun('r2', 'j1', 2000))
    store.appendRunEvents('r1', [info('r1', 'a'), info('r1', 'b')])
    store.appendRunEvents('r2', [info('r2', 'other')])
    store.appendRunEvents('r1', [])
    store.appendRunEvents('r1', [info('r1', 'c')])
    assert.deepEqual(store.listRunEvents('r1'), [
      { runId: 'r1', seq: 0, event: info('r1', 'a') },
      { runId: 'r1', seq: 1, event: info('r1', 'b') },
      { runId: 'r1', seq: 2, event: info('r1', 'c') },
    ])
    assert.deepEqual(
      store.listRunEvents('r1', 2).map((e) => e.seq),
      [2],
    )
    assert.deepEqual(store.listRunEvents('r2'), [{ runId: 'r2', seq: 0, event: info('r2', 'other') }])
    assert.deepEqual(store.listRunEvents('none'), [])
    assert.equal(
      storeErrorOf(() => {
        store.appendRunEvents('none', [info('x', 'y')])
      }).code,
      'STORE_NOT_FOUND',
    )
    assert.deepEqual(store.listRunEvents('none'), [], 'nothing half-written')
  })

  it('keeps schedule checkpoints, and ignores one for a schedule that is gone', (t) => {
    const { store } = tempStore(t)
    store.putJob(sampleJob('j1'))
    store.putSchedule(sampleSchedule('s1', 'j1'))
    assert.equal(store.getScheduleCheckpoint('s1'), undefined)
    store.setScheduleCheckpoint('s1', 1000)
    store.setScheduleCheckpoint('s1', 2000)
    assert.equal(store.getScheduleCheckpoint('s1'), 2000)
    store.setScheduleCheckpoint('gone', 3000)
    assert.equal(store.getScheduleCheckpoint('gone'), undefined)
    store.deleteSchedule('s1')
    assert.equal(store.getScheduleCheckpoint('s1'), undefined)
  })
})
