// The composition of `xapi-backup serve` (issue 12): the store in the data directory, the run
// service, the scheduler, notifications, and the HTTP(S) server of the API and console. `close()`
// stops taking runs, cancels the running ones cleanly, and closes everything.
import { readFileSync } from 'node:fs'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { runBackupFromDescription } from '../app/run-backup.ts'
import { healthCheckFromRemote } from '../app/health-check.ts'
import { restoreFromRemote } from '../app/restore.ts'
import {
  checkRemoteUrl,
  listPoolSrs,
  listPoolVms,
  listRemoteBackups,
  testPool,
  testRemoteUrl,
} from '../app/server-services.ts'
import { buildRunDescription, manualScheduleId } from '../daemon/job-description.ts'
import type { JobRecord, RunRecord } from '../daemon/model.ts'
import { RunService } from '../daemon/run-service.ts'
import { checkCron, createScheduler } from '../daemon/scheduler.ts'
import { openStore } from '../daemon/store/open-store.ts'
import type { Store } from '../daemon/store-port.ts'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import type { JsonObject } from '../shared/json.ts'
import type { TaskSink } from '../tasks/events.ts'
import type { ApiDeps, ServerOperations, StartJobRun } from './api-context.ts'
import { ApiError } from './api-error.ts'
import { createApiApp } from './api-app.ts'
import { notifyEnded } from './notify-ended.ts'

/** Options of startServer. */
export interface ServerOptions {
  readonly dataDir: string
  readonly port?: number
  readonly host?: string
  readonly tls?: { readonly certFile: string; readonly keyFile: string }
  /** The server's clock: schedules, run records, tokens (tests move it by hand). */
  readonly clock?: Clock
  /** The engine's clock (backup timestamps, retries, timeouts); default the system clock, whatever `clock` is. */
  readonly engineClock?: Clock
  /** Runs at once across jobs (default 2). */
  readonly concurrency?: number
  readonly webRoot?: string
  readonly version?: string
  readonly log?: (message: string) => void
  /** Replaces the app-layer operations (tests). */
  readonly operations?: Partial<ServerOperations>
}

/** A started server. */
export interface RunningServer {
  readonly url: string
  readonly store: Store
  /** Stops taking runs, cancels running ones and waits for them, then closes the store and the port. */
  close(): Promise<void>
}

const defaultOperations: ServerOperations = {
  testPool,
  listPoolVms,
  listPoolSrs,
  testRemote: testRemoteUrl,
  listRemoteBackups,
  checkRemoteUrl,
  restore: (o) => restoreFromRemote(o),
  healthCheck: (o) => healthCheckFromRemote(o),
}

/** A sink that puts the description's warnings on the job once it has started (they are in the log, not lost). */
function withWarnings(sink: TaskSink, warnings: readonly { message: string }[], clock: Clock): TaskSink {
  let done = warnings.length === 0
  return {
    write(event) {
      sink.write(event)
      if (done || event.event !== 'job.start') return
      done = true
      for (const { message } of warnings)
        sink.write({
          event: 'task.warning',
          id: event.id,
          timestamp: clock.now(),
          message,
          data: { source: 'job' },
        })
    },
  }
}

function scheduleIdFor(store: Store, job: JobRecord, asked: string | undefined): string {
  const schedules = store.listSchedules(job.id)
  if (asked !== undefined) {
    if (!schedules.some((s) => s.id === asked))
      throw new ApiError(
        400,
        'INVALID_INPUT',
        `scheduleId: job ${job.name} has no schedule ${asked}`,
        'scheduleId',
      )
    return asked
  }
  if (schedules.length === 0) return manualScheduleId(job.id)
  if (schedules.length === 1) return (schedules[0] as { id: string }).id
  throw new ApiError(
    400,
    'INVALID_INPUT',
    `scheduleId: job ${job.name} has ${schedules.length} schedules: say whose retention this run follows`,
    'scheduleId',
  )
}

/** Opens the store, recovers interrupted runs, starts the scheduler and listens; resolves once listening. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const clock = options.clock ?? systemClock
  const engineClock = options.engineClock ?? systemClock
  const log = options.log ?? ((m: string) => process.stderr.write(`${m}\n`))
  const store = openStore(options.dataDir, { clock })
  const operations = { ...defaultOperations, ...options.operations }
  const report = (run: RunRecord): Promise<void> => notifyEnded(store, run, log)
  const runs = new RunService({
    store,
    clock,
    concurrency: options.concurrency ?? 2,
    onRunEnd: report,
    onWarning: log,
  })
  const recovered = runs.recoverUnfinished()
  if (recovered > 0)
    log(`${recovered} run(s) were left unfinished by the previous server: marked interrupted`)

  const startJobRun: StartJobRun = (jobId, request) => {
    const job = store.getJob(jobId)
    if (job === undefined) throw new ApiError(404, 'NOT_FOUND', `job ${jobId} not found`)
    const scheduleId = scheduleIdFor(store, job, request.scheduleId)
    const params: JsonObject = {
      ...(request.vms === undefined ? {} : { vms: [...request.vms] }),
      ...(request.settings === undefined ? {} : { settings: request.settings as JsonObject }),
    }
    if (!runs.accepting) throw new ApiError(503, 'SERVER_STOPPING', 'the server is stopping: no new runs')
    const outcome = runs.start(
      {
        kind: 'backup',
        jobId,
        scheduleId,
        trigger: request.trigger,
        params,
        ...(request.dueAt === undefined ? {} : { dueAt: request.dueAt }),
      },
      async (sink, signal) => {
        if (store.listPools().length === 0)
          throw new ApiError(409, 'NO_POOL', 'no pool is configured: add one (POST /api/pools)')
        const { description, warnings } = buildRunDescription(store, job, {
          scheduleId,
          ...(request.vms === undefined ? {} : { vms: request.vms }),
          ...(request.settings === undefined ? {} : { settings: request.settings as JsonObject }),
        })
        return runBackupFromDescription(description, {
          sink: withWarnings(sink, warnings, clock),
          signal,
          clock: engineClock,
          onRemoteWarning: log,
        })
      },
    )
    if (!outcome.started) void report(outcome.run)
    return outcome
  }

  const scheduler = createScheduler({
    clock,
    listSchedules: () => store.listSchedules(),
    getCheckpoint: (id) => store.getScheduleCheckpoint(id),
    setCheckpoint: (id, at) => {
      store.setScheduleCheckpoint(id, at)
    },
    trigger: (schedule, dueAt) => {
      if (!runs.accepting) return
      startJobRun(schedule.jobId, { trigger: 'schedule', scheduleId: schedule.id, dueAt })
    },
    reportMissed: (schedule, missed) => {
      const more = missed.count - missed.dueAtMs.length
      const reason = `the server was not running at that time${more > 0 ? ` (${missed.countIsExact ? '' : 'at least '}${more} more occurrence(s) not listed)` : ''}`
      const recorded = runs.recordMissed(
        { jobId: schedule.jobId, scheduleId: schedule.id, trigger: 'schedule', params: {} },
        missed.dueAtMs,
        reason,
      )
      // One report for the lot (the newest), not one mail per missed minute.
      const last = recorded.at(-1)
      if (last !== undefined) void report(last)
    },
    onError: (error) => {
      log(`scheduler: ${error instanceof Error ? error.message : String(error)}`)
    },
  })

  const deps: ApiDeps = {
    store,
    runs,
    clock,
    operations,
    startJobRun,
    reloadSchedules: () => {
      scheduler.reload()
    },
    checkCron: (cron, timezone) => checkCron(cron, timezone, clock.now()),
    version: options.version ?? '0.0.0',
    ...(options.webRoot === undefined ? {} : { webRoot: options.webRoot }),
    log,
  }
  const app = createApiApp(deps)
  const host = options.host ?? '127.0.0.1'
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const tls = options.tls
    const s = serve(
      {
        fetch: app.fetch,
        port: options.port ?? 0,
        hostname: host,
        ...(tls === undefined
          ? {}
          : {
              createServer: createHttpsServer,
              serverOptions: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) },
            }),
      },
      () => {
        resolve(s)
      },
    )
    s.once('error', reject)
  })
  scheduler.start()
  const { port } = server.address() as AddressInfo
  const scheme = options.tls === undefined ? 'http' : 'https'
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`
  let closing: Promise<void> | undefined
  return {
    url,
    store,
    close: () =>
      (closing ??= (async () => {
        await scheduler.stop()
        await runs.shutdown()
        await new Promise<void>((resolve) => {
          server.close(() => {
            resolve()
          })
          // Event streams and keep-alive connections would hold close() forever.
          ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
        })
        store.close()
      })()),
  }
}
