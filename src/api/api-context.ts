// What every route of the REST API may use: the store, the runs, the scheduler's reload, and the
// pool/remote operations of the app layer (replaceable in tests).
import type { XapiLogin } from '../app/restore.ts'
import type { BackupItem, PoolSr, PoolVm } from '../app/server-services.ts'
import type { PoolRecord } from '../daemon/model.ts'
import type { RunService } from '../daemon/run-service.ts'
import type { Store } from '../daemon/store-port.ts'
import type { RemoteTestResult } from '../remotes/remote-test.ts'
import type { Clock } from '../shared/clock.ts'
import type { TaskSink } from '../tasks/events.ts'
import { ApiError } from './api-error.ts'

/** The app-layer operations the API calls (src/app/server-services.ts, restore.ts, health-check.ts). */
export interface ServerOperations {
  testPool(
    login: XapiLogin,
  ): Promise<{ ok: true; poolName: string; hosts: number } | { ok: false; error: string }>
  listPoolVms(login: XapiLogin): Promise<PoolVm[]>
  listPoolSrs(login: XapiLogin): Promise<PoolSr[]>
  testRemote(url: string): Promise<RemoteTestResult>
  listRemoteBackups(url: string, vmUuid?: string): Promise<BackupItem[]>
  /** Checks a remote URL's syntax; the reason (without the URL's secrets) when it is not one. */
  checkRemoteUrl(url: string): string | undefined
  restore(options: RestoreRequest): Promise<unknown>
  healthCheck(options: RestoreRequest & { readonly timeoutMs?: number }): Promise<unknown>
}

/** A restore or health check as the run service hands it to the app. */
export interface RestoreRequest {
  readonly remoteUrl: string
  readonly backupId: string
  readonly xapi: XapiLogin
  readonly srUuid: string
  readonly newMacAddresses?: boolean
  readonly sink: TaskSink
  readonly signal: AbortSignal
}

/** Everything a route needs. */
export interface ApiDeps {
  readonly store: Store
  readonly runs: RunService
  readonly clock: Clock
  readonly operations: ServerOperations
  /** Starts a run of a stored job (the server's wiring: description, engine, notifications). */
  readonly startJobRun: StartJobRun
  /** Re-reads schedules after an edit. */
  readonly reloadSchedules: () => void
  /** Next occurrence of a schedule (epoch ms), or a one-line reason why its cron/timezone is invalid. */
  readonly checkCron: (
    cron: string,
    timezone: string,
  ) => { ok: true; next: number } | { ok: false; path: string; message: string }
  readonly version: string
  /** Where the built console is (dist/web); undefined: not served. */
  readonly webRoot?: string
  /** The server's own log (errors of routes, never request bodies). */
  readonly log: (message: string) => void
}

/** Starts a run of job `jobId` (see src/api/start-server.ts). */
export type StartJobRun = (
  jobId: string,
  request: {
    trigger: 'manual' | 'schedule'
    scheduleId?: string
    dueAt?: number
    vms?: readonly string[]
    settings?: Record<string, unknown>
  },
) => ReturnType<RunService['start']>

/** The login of a stored pool (its password from the secrets file). */
export function poolLogin(store: Store, pool: PoolRecord): XapiLogin {
  const password = store.secrets.get(`pool:${pool.id}`)
  if (password === undefined)
    throw new ApiError(
      409,
      'SECRET_MISSING',
      `pool ${pool.name}: its password is missing from the secrets file; set it again`,
    )
  return { url: pool.url, user: pool.username, password, allowUnauthorized: pool.allowUnauthorized }
}

/** The full URL of a stored remote (from the secrets file). */
export function remoteUrl(store: Store, id: string, name: string): string {
  const url = store.secrets.get(`remote:${id}`)
  if (url === undefined)
    throw new ApiError(
      409,
      'SECRET_MISSING',
      `remote ${name}: its URL is missing from the secrets file; set it again`,
    )
  return url
}
