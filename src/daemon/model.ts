// The job server's records (issue 12): what the store keeps and the API shows. Secrets (XAPI
// passwords, remote URLs that carry keys, the SMTP password) are never in these records: they live
// in the store's secrets file (mode 0600) and are read only to build a run's description.
import type { Json, JsonObject } from '../shared/json.ts'
import type { TaskEvent } from '../tasks/events.ts'

/** A XAPI connection (a pool master); its password is in the secrets file under `pool:<id>`. */
export interface PoolRecord {
  readonly id: string
  readonly name: string
  readonly url: string
  readonly username: string
  readonly allowUnauthorized: boolean
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * A backup repository; the full URL (which may carry a password or keys) is in the secrets file
 * under `remote:<id>`, `url` here is the same URL with its secrets replaced by `***`.
 */
export interface RemoteRecord {
  readonly id: string
  readonly name: string
  readonly url: string
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * A backup job: the seed's job object as given (id, name, mode, type, compression, remotes (ids
 * of RemoteRecords), srs, vms, settings), checked as a run description's job is.
 */
export interface JobRecord {
  readonly id: string
  readonly name: string
  readonly job: JsonObject
  readonly createdAt: number
  readonly updatedAt: number
}

/** A schedule of a job: cron in an IANA time zone; its settings key is its id (seed settings). */
export interface ScheduleRecord {
  readonly id: string
  readonly jobId: string
  readonly name: string
  readonly cron: string
  readonly timezone: string
  readonly enabled: boolean
  /** This schedule's settings block (the job's `settings[<schedule id>]` in a run description). */
  readonly settings: JsonObject
  readonly createdAt: number
  readonly updatedAt: number
}

/** What started a run. */
export type RunTrigger = 'schedule' | 'manual'

/**
 * A run's status: `pending` (accepted, not started), `running`, the job's outcome
 * (`success`, `failure`, `interrupted` when the server stopped it or died), or a run that never
 * ran: `skipped` (the job was already running) or `missed` (the server was down at that time).
 */
export type RunState = 'pending' | 'running' | 'success' | 'failure' | 'interrupted' | 'skipped' | 'missed'

/** Per-VM summary of a run. */
export interface RunVmSummary {
  readonly uuid: string
  readonly name?: string
  readonly status: 'success' | 'failure' | 'skipped' | 'interrupted' | 'pending'
  readonly error?: string
}

/** One run of a job (or a restore / health check started from the API: `kind`). */
export interface RunRecord {
  readonly id: string
  readonly kind: 'backup' | 'restore' | 'healthCheck'
  readonly jobId: string | null
  readonly scheduleId: string | null
  readonly trigger: RunTrigger
  readonly status: RunState
  /** Why the run is skipped, missed, failed or interrupted; a one-line message. */
  readonly reason: string | null
  /** Epoch ms: when it started (or was due, for skipped/missed). */
  readonly start: number
  readonly end: number | null
  /** Bytes written to targets (the sum of the tree's transfer sizes). */
  readonly sizeBytes: number
  readonly vms: readonly RunVmSummary[]
  /** What the run was asked: VM subset, setting overrides, restore parameters (no secrets). */
  readonly params: JsonObject
}

/** A stored task-log event of a run, in order (`seq` from 0). */
export interface RunEvent {
  readonly runId: string
  readonly seq: number
  readonly event: TaskEvent
}

/** An API token as listed: never its value, which only `create` shows once. */
export interface TokenRecord {
  readonly id: string
  readonly name: string
  readonly createdAt: number
  readonly lastUsedAt: number | null
  readonly revokedAt: number | null
}

/** Where run reports go (reportWhen): webhooks get the JSON summary, SMTP sends mail to reportRecipients. */
export interface NotificationSettings {
  readonly webhooks: readonly { readonly url: string }[]
  /** The SMTP password, when any, is in the secrets file under `smtp`. */
  readonly smtp: {
    readonly host: string
    readonly port: number
    /** 'tls': TLS from the start (465); 'starttls': upgrade required; 'none': plain (tests, local relays). */
    readonly security: 'tls' | 'starttls' | 'none'
    readonly username?: string
    readonly from: string
    readonly allowUnauthorized?: boolean
  } | null
}

/** The summary of a finished run that notifications carry (JSON body of the webhook). */
export interface RunReport {
  readonly runId: string
  readonly jobId: string | null
  readonly jobName: string
  readonly status: RunState
  readonly reason: string | null
  readonly start: number
  readonly end: number | null
  readonly durationMs: number | null
  readonly sizeBytes: number
  readonly vms: readonly RunVmSummary[]
  /** A link to the run in the console when the server knows its public URL. */
  readonly url?: string
}

/** JSON values the API passes through untouched (settings overrides). */
export type Overrides = Readonly<Record<string, Json>>
