// The configuration half of the store: pools, remotes, jobs, schedules and notification settings,
// with their secrets in the secrets file (written before the row, so no row lacks its secret).
import type Database from 'better-sqlite3'
import { errorCode } from '../../shared/errors.ts'
import type { JobRecord, NotificationSettings, PoolRecord, RemoteRecord, ScheduleRecord } from '../model.ts'
import type { SecretStore, Store } from '../store-port.ts'
import { readNotificationSettings, readRow } from './rows.ts'
import type { Row } from './rows.ts'
import { createStatements } from './statements.ts'
import { StoreError } from './store-error.ts'

/** The configuration methods of a Store. */
export type ConfigStore = Pick<
  Store,
  | 'listPools'
  | 'getPool'
  | 'putPool'
  | 'deletePool'
  | 'listRemotes'
  | 'getRemote'
  | 'putRemote'
  | 'deleteRemote'
  | 'listJobs'
  | 'getJob'
  | 'putJob'
  | 'deleteJob'
  | 'listSchedules'
  | 'getSchedule'
  | 'putSchedule'
  | 'deleteSchedule'
  | 'getNotificationSettings'
  | 'putNotificationSettings'
>

const SCHEDULE_COLUMNS = [
  'id',
  'job_id',
  'name',
  'cron',
  'timezone',
  'enabled',
  'settings',
  'created_at',
  'updated_at',
]

const NO_NOTIFICATIONS: NotificationSettings = { webhooks: [], smtp: null }

/** The ConfigStore over a migrated database `db` and its `secrets`. */
export function createConfigStore(db: Database.Database, secrets: SecretStore): ConfigStore {
  const tables = createTables(db)
  return {
    ...poolMethods(tables, secrets),
    ...remoteMethods(tables, secrets),
    ...jobMethods(tables),
    ...scheduleMethods(tables),
    ...notificationMethods(tables, secrets),
  }
}

/** Row access shared by the record kinds. */
interface Tables {
  all(sql: string, ...params: unknown[]): Row[]
  one(sql: string, ...params: unknown[]): Row | undefined
  remove(table: string, id: string): boolean
  upsert(table: string, columns: readonly string[]): Database.Statement
}

function createTables(db: Database.Database): Tables {
  const sql = createStatements(db)
  return {
    all: (text, ...params) => sql(text).all(...params) as Row[],
    one: (text, ...params) => sql(text).get(...params) as Row | undefined,
    remove: (table, id) => sql(`DELETE FROM ${table} WHERE id = ?`).run(id).changes > 0,
    upsert(table, columns) {
      const sets = columns.filter((c) => c !== 'id').map((c) => `${c} = excluded.${c}`)
      // An upsert, not INSERT OR REPLACE: a replace deletes the row first, which would cascade
      // (replacing a job would delete its schedules).
      return sql(
        `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')}) ` +
          `ON CONFLICT (id) DO UPDATE SET ${sets.join(', ')}`,
      )
    },
  }
}

const BY_NAME = 'ORDER BY name, id'

function poolMethods(
  t: Tables,
  secrets: SecretStore,
): Pick<Store, 'listPools' | 'getPool' | 'putPool' | 'deletePool'> {
  const insert = t.upsert('pools', [
    'id',
    'name',
    'url',
    'username',
    'allow_unauthorized',
    'created_at',
    'updated_at',
  ])
  return {
    listPools: () => t.all(`SELECT * FROM pools ${BY_NAME}`).map(toPool),
    getPool: (id) => mapOptional(t.one('SELECT * FROM pools WHERE id = ?', id), toPool),
    putPool(pool, password) {
      if (password !== undefined) secrets.set(`pool:${pool.id}`, password)
      const { id, name, url, username } = pool
      const [allow_unauthorized, created_at, updated_at] = [
        pool.allowUnauthorized ? 1 : 0,
        pool.createdAt,
        pool.updatedAt,
      ]
      insert.run({ id, name, url, username, allow_unauthorized, created_at, updated_at })
    },
    deletePool: (id) => deleteWithSecret(t.remove('pools', id), secrets, `pool:${id}`),
  }
}

function remoteMethods(
  t: Tables,
  secrets: SecretStore,
): Pick<Store, 'listRemotes' | 'getRemote' | 'putRemote' | 'deleteRemote'> {
  const insert = t.upsert('remotes', ['id', 'name', 'url', 'created_at', 'updated_at'])
  return {
    listRemotes: () => t.all(`SELECT * FROM remotes ${BY_NAME}`).map(toRemote),
    getRemote: (id) => mapOptional(t.one('SELECT * FROM remotes WHERE id = ?', id), toRemote),
    putRemote(remote, secretUrl) {
      secrets.set(`remote:${remote.id}`, secretUrl)
      const { id, name, url, createdAt, updatedAt } = remote
      insert.run({ id, name, url, created_at: createdAt, updated_at: updatedAt })
    },
    deleteRemote: (id) => deleteWithSecret(t.remove('remotes', id), secrets, `remote:${id}`),
  }
}

function jobMethods(t: Tables): Pick<Store, 'listJobs' | 'getJob' | 'putJob' | 'deleteJob'> {
  const insert = t.upsert('jobs', ['id', 'name', 'job', 'created_at', 'updated_at'])
  return {
    listJobs: () => t.all(`SELECT * FROM jobs ${BY_NAME}`).map(toJob),
    getJob: (id) => mapOptional(t.one('SELECT * FROM jobs WHERE id = ?', id), toJob),
    putJob(job) {
      const { id, name, createdAt, updatedAt } = job
      insert.run({ id, name, job: JSON.stringify(job.job), created_at: createdAt, updated_at: updatedAt })
    },
    // The schedules (and their checkpoints) go by ON DELETE CASCADE; runs have no foreign key.
    deleteJob: (id) => t.remove('jobs', id),
  }
}

function scheduleMethods(
  t: Tables,
): Pick<Store, 'listSchedules' | 'getSchedule' | 'putSchedule' | 'deleteSchedule'> {
  const insert = t.upsert('schedules', SCHEDULE_COLUMNS)
  return {
    listSchedules: (jobId) =>
      (jobId === undefined
        ? t.all(`SELECT * FROM schedules ${BY_NAME}`)
        : t.all(`SELECT * FROM schedules WHERE job_id = ? ${BY_NAME}`, jobId)
      ).map(toSchedule),
    getSchedule: (id) => mapOptional(t.one('SELECT * FROM schedules WHERE id = ?', id), toSchedule),
    putSchedule(schedule) {
      try {
        insert.run(scheduleRow(schedule))
      } catch (error) {
        if (errorCode(error) !== 'SQLITE_CONSTRAINT_FOREIGNKEY') throw error
        const { id, jobId } = schedule
        throw new StoreError('STORE_NOT_FOUND', `schedule ${id}: job ${jobId} does not exist`, {
          details: { table: 'jobs', id: jobId },
          cause: error,
        })
      }
    },
    deleteSchedule: (id) => t.remove('schedules', id),
  }
}

function notificationMethods(
  t: Tables,
  secrets: SecretStore,
): Pick<Store, 'getNotificationSettings' | 'putNotificationSettings'> {
  const insert = t.upsert('notification_settings', ['id', 'json'])
  return {
    getNotificationSettings() {
      const row = t.one('SELECT * FROM notification_settings WHERE id = 1')
      if (row === undefined) return NO_NOTIFICATIONS
      return readNotificationSettings(readRow('notification_settings', row), 'json')
    },
    putNotificationSettings(settings, smtpPassword) {
      // undefined keeps the stored password; null (or no SMTP at all) removes it.
      if (smtpPassword === null || settings.smtp === null) secrets.delete('smtp')
      else if (smtpPassword !== undefined) secrets.set('smtp', smtpPassword)
      insert.run({ id: 1, json: JSON.stringify(settings) })
    },
  }
}

function mapOptional<T>(row: Row | undefined, map: (row: Row) => T): T | undefined {
  return row === undefined ? undefined : map(row)
}

// The row goes first: a crash in between leaves an unused secret in the 0600 file, never a row
// whose secret vanished; the next put of that id overwrites it.
function deleteWithSecret(deleted: boolean, secrets: SecretStore, key: string): boolean {
  secrets.delete(key)
  return deleted
}

function toPool(row: Row): PoolRecord {
  const r = readRow('pools', row)
  return {
    id: r.text('id'),
    name: r.text('name'),
    url: r.text('url'),
    username: r.text('username'),
    allowUnauthorized: r.flag('allow_unauthorized'),
    createdAt: r.int('created_at'),
    updatedAt: r.int('updated_at'),
  }
}

function toRemote(row: Row): RemoteRecord {
  const r = readRow('remotes', row)
  const [id, name, url] = [r.text('id'), r.text('name'), r.text('url')]
  return { id, name, url, createdAt: r.int('created_at'), updatedAt: r.int('updated_at') }
}

function toJob(row: Row): JobRecord {
  const r = readRow('jobs', row)
  const [id, name, job] = [r.text('id'), r.text('name'), r.object('job')]
  return { id, name, job, createdAt: r.int('created_at'), updatedAt: r.int('updated_at') }
}

function scheduleRow(s: ScheduleRecord): Record<string, string | number> {
  return {
    id: s.id,
    job_id: s.jobId,
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    enabled: s.enabled ? 1 : 0,
    settings: JSON.stringify(s.settings),
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  }
}

function toSchedule(row: Row): ScheduleRecord {
  const r = readRow('schedules', row)
  return {
    id: r.text('id'),
    jobId: r.text('job_id'),
    name: r.text('name'),
    cron: r.text('cron'),
    timezone: r.text('timezone'),
    enabled: r.flag('enabled'),
    settings: r.object('settings'),
    createdAt: r.int('created_at'),
    updatedAt: r.int('updated_at'),
  }
}
