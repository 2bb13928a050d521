// The composition root of `xapi-backup run`: run description file → credentials → XAPI clients
// and remotes → the engine's job run → everything closed. Every failure before the job starts names
// the field of the description it comes from, and nothing is snapshotted or written then.
import type { JobRemote, JobRunResult } from '../engine/run-job.ts'
import { listJobVms, runBackupJob } from '../engine/run-job.ts'
import type { SettingsExplanation } from '../engine/settings-explanation.ts'
import { explainSettings } from '../engine/settings-explanation.ts'
import type { Credential } from '../engine/credentials.ts'
import type { RunDescription } from '../engine/run-description.ts'
import type { RunDescriptionWarning } from '../engine/run-description-error.ts'
import {
  credentialBaseDir,
  nodeCredentialReader,
  readRunDescriptionFile,
  resolveRunCredentials,
} from '../engine/run-description-file.ts'
import { openVdiExport } from '../engine/sources/vdi-export.ts'
import { openVmExport } from '../engine/sources/vm-export.ts'
import type { VmRunSources } from '../engine/vm-run/sources.ts'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import type { JsonObject } from '../shared/json.ts'
import { BackupError } from '../shared/errors.ts'
import type { TaskEvent, TaskSink } from '../tasks/events.ts'
import { redactObject, redactText } from '../tasks/redact.ts'
import { HttpXapiClient } from '../xapi/http-xapi-client.ts'
import type { XapiClient } from '../xapi/types.ts'
import { openRepository } from './open-repository.ts'

/** A connection named in the run description that could not be made (the field, the reason). */
export class RunSetupError extends BackupError<'RUN_SETUP_FAILED'> {}

/** The real sources: XAPI's /export_raw_vdi and /export handlers (src/engine/sources). */
export const xapiSources: VmRunSources = { openVdiExport, openVmExport }

/** Options of runBackupFromFile. */
export interface RunBackupOptions {
  readonly sink: TaskSink
  readonly signal?: AbortSignal
  readonly clock?: Clock
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Called with the description's non-fatal findings (unknown settings…) before anything runs. */
  readonly onWarnings?: (warnings: readonly RunDescriptionWarning[]) => void
  /** A remote's warning outside the job (before it started, after it ended); during it, it is in the log. */
  readonly onRemoteWarning?: (message: string) => void
}

const reasonOf = (error: unknown): string => {
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  return typeof code === 'string' && !message.includes(code) ? `${message} [${code}]` : message
}

async function connectXapis(
  description: RunDescription<Credential>,
  clock: Clock | undefined,
  opened: XapiClient[],
  signal: AbortSignal | undefined,
): Promise<Map<string, XapiClient>> {
  const clients = new Map<string, XapiClient>()
  for (const [id, xapi] of description.xapis) {
    const client = new HttpXapiClient({
      url: xapi.url,
      user: xapi.credentials.username.reveal(),
      password: xapi.credentials.password.reveal(),
      allowUnauthorized: xapi.allowUnauthorized,
      ...(clock === undefined ? {} : { clock }),
    })
    opened.push(client)
    try {
      await client.connect(signal === undefined ? {} : { signal })
    } catch (error) {
      // The client's errors never carry the password (src/xapi redacts); the URL has none.
      throw new RunSetupError(
        'RUN_SETUP_FAILED',
        `xapis.${id}: cannot log in to ${xapi.url}: ${reasonOf(error)}`,
        {
          details: { field: `xapis.${id}` },
          cause: error,
        },
      )
    }
    clients.set(id, client)
  }
  return clients
}

/**
 * Puts what the remotes warn about in the run's log: as `task.warning` events on the job while it
 * runs (buffered until its `job.start`), through `late` before and after. Remotes are opened before
 * the job starts and closed after it ends, and their warnings (e.g. an interrupted S3 multipart
 * upload that could not be aborted, whose parts stay billed) would otherwise reach nobody.
 */
class RemoteWarnings implements TaskSink {
  readonly #sink: TaskSink
  readonly #clock: Clock
  readonly #late: (message: string) => void
  #jobId: string | undefined
  #ended = false
  readonly #pending: { message: string; data: JsonObject }[] = []

  constructor(sink: TaskSink, clock: Clock, late: (message: string) => void) {
    this.#sink = sink
    this.#clock = clock
    this.#late = late
  }

  write(event: TaskEvent): void {
    this.#sink.write(event)
    if (event.event === 'job.start' && this.#jobId === undefined) {
      this.#jobId = event.id
      for (const { message, data } of this.#pending.splice(0)) this.#emit(message, data)
    } else if (event.event === 'job.end' && event.id === this.#jobId) this.#ended = true
  }

  warn(remoteId: string, message: string, details: JsonObject): void {
    const data = redactObject({ ...details, type: 'remote', id: remoteId })
    const text = `remote ${remoteId}: ${redactText(message)}`
    if (this.#ended) this.#late(text)
    else if (this.#jobId === undefined) this.#pending.push({ message: text, data })
    else this.#emit(text, data)
  }

  /** Warnings that came before a job that never started: the caller shows them. */
  flush(): void {
    if (this.#jobId === undefined) for (const { message } of this.#pending.splice(0)) this.#late(message)
  }

  #emit(message: string, data: JsonObject): void {
    if (this.#jobId === undefined) return
    this.#sink.write({ event: 'task.warning', id: this.#jobId, timestamp: this.#clock.now(), message, data })
  }
}

async function openRemotes(
  description: RunDescription<Credential>,
  clock: Clock | undefined,
  closers: (() => Promise<void>)[],
  warnings: RemoteWarnings,
): Promise<Map<string, JobRemote>> {
  const remotes = new Map<string, JobRemote>()
  for (const id of description.job.remotes) {
    const url = description.remotes.get(id)?.url
    if (url === undefined) continue // checked by the description already
    try {
      const repository = await openRepository(url.reveal(), {
        ...(clock === undefined ? {} : { clock }),
        onWarning: (message, details) => {
          warnings.warn(id, message, details)
        },
      })
      closers.push(() => repository.close())
      remotes.set(id, { remote: repository.remote, mergeStore: repository.mergeStore })
    } catch (error) {
      // The URL may hold a secret: the message names the field, never the URL.
      throw new RunSetupError(
        'RUN_SETUP_FAILED',
        `remotes.${id}.url: cannot open the remote: ${reasonOf(error)}`,
        {
          details: { field: `remotes.${id}.url` },
        },
      )
    }
  }
  return remotes
}

/**
 * Runs the job of the run description at `path` (JSON or YAML) with its task log going to
 * `options.sink`: reads and checks the file, resolves credentials, then runBackupFromDescription.
 */
export async function runBackupFromFile(path: string, options: RunBackupOptions): Promise<JobRunResult> {
  const { description: checked, warnings } = await readRunDescriptionFile(path)
  options.onWarnings?.(warnings)
  const description = await resolveRunCredentials(
    checked,
    nodeCredentialReader(credentialBaseDir(path), options.env ?? process.env),
    path,
  )
  return runBackupFromDescription(description, options)
}

/**
 * Runs the job of a checked run description whose credentials are resolved (the file's, or one
 * the job server built from its store): logs in to every XAPI and opens every remote of the job
 * (RUN_SETUP_FAILED naming the field when one fails, before any snapshot), runs the job
 * (runBackupJob), and always logs out and closes the remotes.
 */
export async function runBackupFromDescription(
  description: RunDescription<Credential>,
  options: Omit<RunBackupOptions, 'env' | 'onWarnings'>,
): Promise<JobRunResult> {
  const clients: XapiClient[] = []
  const closers: (() => Promise<void>)[] = []
  const remoteWarnings = new RemoteWarnings(options.sink, options.clock ?? systemClock, (message) =>
    options.onRemoteWarning?.(message),
  )
  try {
    const xapis = await connectXapis(description, options.clock, clients, options.signal)
    const remotes = await openRemotes(description, options.clock, closers, remoteWarnings)
    return await runBackupJob(
      {
        description,
        xapis,
        remotes,
        sources: xapiSources,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
      },
      {
        sink: remoteWarnings,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
    )
  } finally {
    await Promise.allSettled([...clients.map((c) => c.disconnect()), ...closers.map((close) => close())])
    remoteWarnings.flush()
  }
}

/**
 * The effective settings of every VM of the run description at `path`, per target, with where
 * each value comes from (`run --explain`): nothing is snapshotted or written. Explicit VM ids are
 * taken as listed; a smart pattern needs the pools, so the XAPIs are logged in to and their VMs
 * selected (read-only calls), then logged out.
 */
export async function explainRunFile(
  path: string,
  options: Pick<RunBackupOptions, 'clock' | 'env' | 'onWarnings' | 'signal'> = {},
): Promise<SettingsExplanation> {
  const { description: checked, warnings } = await readRunDescriptionFile(path)
  options.onWarnings?.(warnings)
  const { job, schedule } = checked
  if (job.vms.kind === 'ids') return explainSettings(job, schedule.id, job.vms.ids)
  const description = await resolveRunCredentials(
    checked,
    nodeCredentialReader(credentialBaseDir(path), options.env ?? process.env),
    path,
  )
  const clients: XapiClient[] = []
  try {
    const xapis = await connectXapis(description, options.clock, clients, options.signal)
    const vms = await listJobVms(description, xapis, options.signal ?? new AbortController().signal)
    return explainSettings(
      job,
      schedule.id,
      vms.selected.map((vm) => vm.uuid),
    )
  } finally {
    await Promise.allSettled(clients.map((c) => c.disconnect()))
  }
}
