// The history half of the store: runs, their task events and the scheduler's checkpoints.
import type Database from 'better-sqlite3'
import { errorCode } from '../../shared/errors.ts'
import type { TaskEvent } from '../../tasks/events.ts'
import type { RunRecord, RunState } from '../model.ts'
import type { Page, RunFilter, Store } from '../store-port.ts'
import { readRow, readTaskEvent, readVmSummaries } from './rows.ts'
import type { Row } from './rows.ts'
import { createStatements } from './statements.ts'
import type { Statements } from './statements.ts'
import { StoreError } from './store-error.ts'

/** The run history methods of a Store. */
export type RunStore = Pick<
  Store,
  | 'insertRun'
  | 'updateRun'
  | 'getRun'
  | 'listRuns'
  | 'lastRunPerJob'
  | 'appendRunEvents'
  | 'listRunEvents'
  | 'listUnfinishedRuns'
  | 'getScheduleCheckpoint'
  | 'setScheduleCheckpoint'
>

/** Runs in a page when the filter gives no limit. */
export const DEFAULT_RUN_PAGE = 50
/** The largest page listRuns returns, whatever the limit asked. */
export const MAX_RUN_PAGE = 500

const KINDS = ['backup', 'restore', 'healthCheck'] as const satisfies readonly RunRecord['kind'][]
const TRIGGERS = ['schedule', 'manual'] as const satisfies readonly RunRecord['trigger'][]
const STATES = [
  'pending',
  'running',
  'success',
  'failure',
  'interrupted',
  'skipped',
  'missed',
] as const satisfies readonly RunState[]
const NEWEST_FIRST = 'ORDER BY start_ms DESC, id DESC'

// One index range per job: the newest run of each job id found in the history (deleted jobs too,
// so a caller joining with its jobs never misses one).
const LAST_RUN_PER_JOB = `
SELECT runs.* FROM (SELECT DISTINCT job_id FROM runs WHERE job_id IS NOT NULL) AS j
JOIN runs ON runs.id = (
  SELECT newest.id FROM runs AS newest WHERE newest.job_id = j.job_id
  ORDER BY newest.start_ms DESC, newest.id DESC LIMIT 1
)
ORDER BY runs.start_ms DESC, runs.id DESC`

/** The RunStore over a migrated database `db`. */
export function createRunStore(db: Database.Database): RunStore {
  const sql = createStatements(db)
  return {
    ...runWriteMethods(sql),
    ...runReadMethods(db, sql),
    ...eventMethods(db, sql),
    ...checkpointMethods(sql),
  }
}

function runWriteMethods(sql: Statements): Pick<Store, 'insertRun' | 'updateRun'> {
  return {
    insertRun(run) {
      try {
        sql(
          'INSERT INTO runs (id, kind, job_id, schedule_id, trigger, status, reason, start_ms, end_ms, size_bytes, vms, params) ' +
            'VALUES (@id, @kind, @jobId, @scheduleId, @trigger, @status, @reason, @start, @end, @sizeBytes, @vms, @params)',
        ).run(runRow(run))
      } catch (error) {
        if (errorCode(error) !== 'SQLITE_CONSTRAINT_PRIMARYKEY') throw error
        throw new StoreError('STORE_CONFLICT', `run ${run.id} already exists`, {
          details: { table: 'runs', id: run.id },
          cause: error,
        })
      }
    },
    updateRun(id, patch) {
      const columns: Record<string, string | number | null> = {}
      if (patch.status !== undefined) columns.status = patch.status
      if (patch.reason !== undefined) columns.reason = patch.reason
      if (patch.end !== undefined) columns.end_ms = patch.end
      if (patch.sizeBytes !== undefined) columns.size_bytes = patch.sizeBytes
      if (patch.vms !== undefined) columns.vms = JSON.stringify(patch.vms)
      const names = Object.keys(columns)
      const changes =
        names.length === 0
          ? Number(sql('SELECT 1 FROM runs WHERE id = ?').get(id) !== undefined)
          : sql(`UPDATE runs SET ${names.map((n) => `${n} = @${n}`).join(', ')} WHERE id = @id`).run({
              ...columns,
              id,
            }).changes
      if (changes === 0) throw runNotFound(id)
    },
  }
}

function runReadMethods(
  db: Database.Database,
  sql: Statements,
): Pick<Store, 'getRun' | 'listRuns' | 'lastRunPerJob' | 'listUnfinishedRuns'> {
  const runs = (text: string, ...params: unknown[]): RunRecord[] =>
    (sql(text).all(...params) as Row[]).map(toRun)
  // One read transaction, so that `total` counts the same snapshot the page was read from.
  const page = db.transaction((filter: RunFilter): Page<RunRecord> => {
    const conditions: string[] = []
    const params: string[] = []
    // Plain conditions, not `(? IS NULL OR job_id = ?)`, which SQLite cannot answer from an index.
    if (filter.jobId !== undefined) {
      conditions.push('job_id = ?')
      params.push(filter.jobId)
    }
    if (filter.status !== undefined) {
      conditions.push('status = ?')
      params.push(filter.status)
    }
    const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`
    const items = runs(
      `SELECT * FROM runs ${where} ${NEWEST_FIRST} LIMIT ? OFFSET ?`,
      ...params,
      ...pageWindow(filter),
    )
    const { total } = sql(`SELECT count(*) AS total FROM runs ${where}`).get(...params) as { total: number }
    return { items, total }
  })

  return {
    getRun: (id) => runs('SELECT * FROM runs WHERE id = ?', id)[0],
    listRuns: (filter = {}) => page(filter),
    lastRunPerJob: () => runs(LAST_RUN_PER_JOB),
    listUnfinishedRuns: () =>
      runs(`SELECT * FROM runs WHERE status IN ('pending', 'running') ORDER BY start_ms, id`),
  }
}

function eventMethods(
  db: Database.Database,
  sql: Statements,
): Pick<Store, 'appendRunEvents' | 'listRunEvents'> {
  const append = db.transaction((runId: string, events: readonly TaskEvent[]) => {
    const { next } = sql('SELECT coalesce(max(seq) + 1, 0) AS next FROM run_events WHERE run_id = ?').get(
      runId,
    ) as { next: number }
    const insert = sql('INSERT INTO run_events (run_id, seq, json) VALUES (?, ?, ?)')
    events.forEach((event, index) => insert.run(runId, next + index, JSON.stringify(event)))
  })
  return {
    appendRunEvents(runId, events) {
      if (events.length === 0) return
      try {
        append(runId, events)
      } catch (error) {
        if (errorCode(error) === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw runNotFound(runId, error)
        throw error
      }
    },
    listRunEvents: (runId, fromSeq = 0) =>
      (
        sql('SELECT seq, json FROM run_events WHERE run_id = ? AND seq >= ? ORDER BY seq').all(
          runId,
          fromSeq,
        ) as Row[]
      ).map((row) => {
        const r = readRow('run_events', row, `${runId}/${String(row.seq)}`)
        return { runId, seq: r.int('seq'), event: readTaskEvent(r, 'json') }
      }),
  }
}

function checkpointMethods(sql: Statements): Pick<Store, 'getScheduleCheckpoint' | 'setScheduleCheckpoint'> {
  return {
    getScheduleCheckpoint(scheduleId) {
      const row = sql('SELECT at_ms FROM schedule_checkpoints WHERE schedule_id = ?').get(scheduleId) as
        Row | undefined
      return row === undefined ? undefined : readRow('schedule_checkpoints', row, scheduleId).int('at_ms')
    },
    // Ignored when the schedule is gone: the scheduler may finish a tick after its deletion.
    setScheduleCheckpoint(scheduleId, atMs) {
      sql(
        'INSERT INTO schedule_checkpoints (schedule_id, at_ms) SELECT id, @atMs FROM schedules WHERE id = @scheduleId ' +
          'ON CONFLICT (schedule_id) DO UPDATE SET at_ms = excluded.at_ms',
      ).run({ scheduleId, atMs })
    },
  }
}

/** LIMIT and OFFSET of a filter: the limit defaults to DEFAULT_RUN_PAGE and is capped at MAX_RUN_PAGE. */
function pageWindow(filter: RunFilter): [number, number] {
  const limit = Number.isFinite(filter.limit) ? Math.trunc(filter.limit ?? 0) : DEFAULT_RUN_PAGE
  const offset = Number.isFinite(filter.offset) ? Math.trunc(filter.offset ?? 0) : 0
  return [Math.min(Math.max(limit, 0), MAX_RUN_PAGE), Math.max(offset, 0)]
}

function runNotFound(id: string, cause?: unknown): StoreError {
  return new StoreError('STORE_NOT_FOUND', `run ${id} does not exist`, {
    details: { table: 'runs', id },
    cause,
  })
}

function runRow(run: RunRecord): Record<string, string | number | null> {
  const { id, kind, jobId, scheduleId, trigger, status, reason, start, end, sizeBytes } = run
  const [vms, params] = [JSON.stringify(run.vms), JSON.stringify(run.params)]
  return { id, kind, jobId, scheduleId, trigger, status, reason, start, end, sizeBytes, vms, params }
}

function toRun(row: Row): RunRecord {
  const r = readRow('runs', row)
  return {
    id: r.text('id'),
    kind: r.oneOf('kind', KINDS),
    jobId: r.textOrNull('job_id'),
    scheduleId: r.textOrNull('schedule_id'),
    trigger: r.oneOf('trigger', TRIGGERS),
    status: r.oneOf('status', STATES),
    reason: r.textOrNull('reason'),
    start: r.int('start_ms'),
    end: r.intOrNull('end_ms'),
    sizeBytes: r.int('size_bytes'),
    vms: readVmSummaries(r, 'vms'),
    params: r.object('params'),
  }
}
