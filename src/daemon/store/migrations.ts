// The store's schema, as ordered migrations: `PRAGMA user_version` is the number of steps applied.
// Never edit a released step; append a new one (each runs in its own transaction).
import type Database from 'better-sqlite3'
import { runPragma } from './native-handles.ts'
import { StoreError } from './store-error.ts'

// STRICT tables: SQLite refuses values of the wrong type even from a hand-edited database, so
// what we read back is at least of the declared column type (JSON columns are still checked).
const V1_INITIAL = `
CREATE TABLE pools (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  username TEXT NOT NULL,
  allow_unauthorized INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE remotes (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  job TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE schedules (
  id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  settings TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
-- The cascade from jobs looks schedules up by job_id.
CREATE INDEX schedules_job ON schedules (job_id);

-- No foreign key to jobs: a run outlives its job in the history.
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  job_id TEXT,
  schedule_id TEXT,
  trigger TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT,
  start_ms INTEGER NOT NULL,
  end_ms INTEGER,
  size_bytes INTEGER NOT NULL,
  vms TEXT NOT NULL,
  params TEXT NOT NULL
) STRICT;
-- Newest-first paging (id breaks ties so pages never overlap), per job, per status, and the
-- newest run of each job.
CREATE INDEX runs_start ON runs (start_ms DESC, id DESC);
CREATE INDEX runs_job_start ON runs (job_id, start_ms DESC, id DESC);
CREATE INDEX runs_status_start ON runs (status, start_ms DESC, id DESC);

-- The primary key is the index: events of a run in seq order.
CREATE TABLE run_events (
  run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE schedule_checkpoints (
  schedule_id TEXT PRIMARY KEY REFERENCES schedules(id) ON DELETE CASCADE,
  at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE notification_settings (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  json TEXT NOT NULL
) STRICT;

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
) STRICT;
`

/** The schema steps in order; step `i` takes a database from user_version `i` to `i + 1`. */
export const MIGRATIONS: readonly string[] = [V1_INITIAL]

/** The schema version this code writes and understands. */
export const STORE_VERSION = MIGRATIONS.length

/** The STORE_TOO_NEW error for database `file` at `version`. */
export function tooNewError(file: string, version: number): StoreError {
  return new StoreError(
    'STORE_TOO_NEW',
    `${file} has schema version ${version}, newer than this xapi-backup's ${STORE_VERSION}: ` +
      'it was written by a newer xapi-backup; run that version (the file is left untouched)',
    { details: { file, version, supported: STORE_VERSION } },
  )
}

/** The `PRAGMA user_version` of `db`. */
export function readUserVersion(db: Database.Database): number {
  return runPragma(db, 'user_version', { simple: true }) as number
}

/**
 * Applies the missing migrations to `db` (opened read-write, `file` names it in errors), each in
 * an immediate transaction that re-reads the version, so two processes never apply a step twice.
 */
export function migrate(db: Database.Database, file: string): void {
  const step = db.transaction((): boolean => {
    const version = readUserVersion(db)
    if (version > STORE_VERSION) throw tooNewError(file, version)
    const sql = MIGRATIONS[version]
    if (sql === undefined) return false
    db.exec(sql)
    // user_version is part of the database header, so it commits or rolls back with the step.
    runPragma(db, `user_version = ${version + 1}`)
    return true
  })
  while (step.immediate()) {
    // One step a transaction: a failing step leaves the steps before it applied.
  }
}
