// The store's contract (issue 12): what the scheduler, the run service and the API need from it.
// The implementation is SQLite (src/daemon/store/), one file in the data directory, plus a secrets
// file; every method is synchronous (better-sqlite3) and validates nothing the API did not already.
import type {
  JobRecord,
  NotificationSettings,
  PoolRecord,
  RemoteRecord,
  RunEvent,
  RunRecord,
  RunState,
  RunVmSummary,
  ScheduleRecord,
  TokenRecord,
} from './model.ts'
import type { TaskEvent } from '../tasks/events.ts'

/** A page of a listing, newest first for runs; `total` counts every row the filter matches. */
export interface Page<T> {
  readonly items: readonly T[]
  readonly total: number
}

/** Filters of listRuns. */
export interface RunFilter {
  readonly jobId?: string
  readonly status?: RunState
  readonly limit?: number
  readonly offset?: number
}

/** Secrets by key (`pool:<id>`, `remote:<id>`, `smtp`): kept out of the database, in a 0600 file. */
export interface SecretStore {
  get(key: string): string | undefined
  set(key: string, value: string): void
  delete(key: string): void
}

/** The job server's store; ids are uuids given by the caller (the API creates them). */
export interface Store {
  readonly secrets: SecretStore

  listPools(): readonly PoolRecord[]
  getPool(id: string): PoolRecord | undefined
  /** Creates or replaces (same id) a pool; `password` goes to the secrets file when given. */
  putPool(pool: PoolRecord, password?: string): void
  deletePool(id: string): boolean

  listRemotes(): readonly RemoteRecord[]
  getRemote(id: string): RemoteRecord | undefined
  /** Creates or replaces a remote; `secretUrl` (the full URL) goes to the secrets file. */
  putRemote(remote: RemoteRecord, secretUrl: string): void
  deleteRemote(id: string): boolean

  listJobs(): readonly JobRecord[]
  getJob(id: string): JobRecord | undefined
  putJob(job: JobRecord): void
  /** Deletes the job and its schedules; its runs stay in the history. */
  deleteJob(id: string): boolean

  listSchedules(jobId?: string): readonly ScheduleRecord[]
  getSchedule(id: string): ScheduleRecord | undefined
  putSchedule(schedule: ScheduleRecord): void
  deleteSchedule(id: string): boolean

  /** Inserts a run (its events start empty). */
  insertRun(run: RunRecord): void
  /** Updates the mutable fields of a run. */
  updateRun(
    id: string,
    patch: {
      status?: RunState
      reason?: string | null
      end?: number | null
      sizeBytes?: number
      vms?: readonly RunVmSummary[]
    },
  ): void
  getRun(id: string): RunRecord | undefined
  listRuns(filter?: RunFilter): Page<RunRecord>
  /** The newest run of each job (by start), for the dashboard. */
  lastRunPerJob(): readonly RunRecord[]
  /** Appends task events of a run; `seq` continues from the last stored one. */
  appendRunEvents(runId: string, events: readonly TaskEvent[]): void
  /** The events of a run from `fromSeq` (inclusive), in order. */
  listRunEvents(runId: string, fromSeq?: number): readonly RunEvent[]
  /** Runs left `pending`/`running` by a server that stopped without ending them. */
  listUnfinishedRuns(): readonly RunRecord[]

  /** When the scheduler last looked at a schedule's occurrences (epoch ms), to report missed runs. */
  getScheduleCheckpoint(scheduleId: string): number | undefined
  setScheduleCheckpoint(scheduleId: string, atMs: number): void

  getNotificationSettings(): NotificationSettings
  putNotificationSettings(settings: NotificationSettings, smtpPassword?: string | null): void

  /** Stores a token (hashed: scrypt or sha256 of a 256-bit random value) and returns its record. */
  createToken(name: string): { readonly record: TokenRecord; readonly token: string }
  listTokens(): readonly TokenRecord[]
  revokeToken(id: string): boolean
  /** The token's record when `token` is a live (not revoked) token, updating lastUsedAt. */
  verifyToken(token: string): TokenRecord | undefined

  close(): void
}
