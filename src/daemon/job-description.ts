// From the store to the engine (issue 12): a run description document is built from the stored
// job, its schedule and the pools and remotes it names, then checked by the very function that
// checks `xapi-backup run`'s files — so the API rejects a job with the CLI's one-line reasons, and a
// run gets exactly what a file-based run would.
import { createHash } from 'node:crypto'
import type { Credential } from '../engine/credentials.ts'
import { Credential as CredentialValue } from '../engine/credentials.ts'
import type { CheckedRunDescription, RunDescription } from '../engine/run-description.ts'
import { checkRunDescription } from '../engine/run-description.ts'
import { RunDescriptionError } from '../engine/run-description-error.ts'
import { idsOfPattern } from '../engine/id-pattern.ts'
import { BackupError } from '../shared/errors.ts'
import type { Json, JsonObject } from '../shared/json.ts'
import type { JobRecord, ScheduleRecord } from './model.ts'
import type { Store } from './store-port.ts'

/** Why a run could not be described: a pool or remote without its secret, a schedule mismatch. */
export class JobDescriptionError extends BackupError<'JOB_DESCRIPTION_FAILED'> {}

// Stands in for the pools while a job alone is checked (the checks need one XAPI; none is called).
const PLACEHOLDER_XAPI = {
  url: 'https://placeholder.invalid',
  credentials: { username: 'placeholder', password: 'placeholder' },
}

/**
 * The schedule id of manual runs of a job without schedules: stable per job (a uuid derived from
 * the job id), so that their backups share one retention (seed: exportRetention is per schedule).
 */
export function manualScheduleId(jobId: string): string {
  const hex = createHash('sha256').update(`xapi-backup manual schedule ${jobId}`).digest('hex')
  // Shaped as a version-4-like uuid: the seed's settings keys are uuids.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** The job object with the given schedules' settings blocks merged in (schedule blocks win). */
function jobWithSchedules(job: JsonObject, schedules: readonly ScheduleRecord[]): JsonObject {
  const settings: Record<string, Json> = { ...((job['settings'] as JsonObject | undefined) ?? {}) }
  for (const schedule of schedules)
    if (Object.keys(schedule.settings).length > 0)
      settings[schedule.id] = {
        ...((settings[schedule.id] as JsonObject | undefined) ?? {}),
        ...schedule.settings,
      }
  return { ...job, settings }
}

/** The remote ids of a job object's `remotes` IdPattern; none when it is not one (the check says why). */
export function remoteIdsOf(job: JsonObject): readonly string[] {
  if (job['remotes'] === undefined) return []
  try {
    return idsOfPattern(job['remotes'], ['job', 'remotes'])
  } catch {
    return []
  }
}

/**
 * A job object as given by an API client, with `remotes` and `srs` given as plain id arrays turned
 * into the seed's IdPattern (`{id: 'x'}`, `{id: {__or: [...]}}`); anything else is left to the check.
 */
export function normalizeJobObject(job: JsonObject): JsonObject {
  const pattern = (value: Json | undefined): Json | undefined => {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return value
    if (value.length === 0) return undefined
    return { id: value.length === 1 ? (value[0] as string) : { __or: value } }
  }
  const { remotes, srs, ...rest } = job
  const [r, s] = [pattern(remotes), pattern(srs)]
  return { ...rest, ...(r === undefined ? {} : { remotes: r }), ...(s === undefined ? {} : { srs: s }) }
}

/** The `remotes` part: each remote id of the job with a placeholder URL (the check reads the scheme only). */
function remotesOf(store: Store, job: JsonObject, withSecrets: boolean): JsonObject {
  const remotes: Record<string, Json> = {}
  for (const id of remoteIdsOf(job)) {
    if (store.getRemote(id) === undefined) continue
    const url = withSecrets ? store.secrets.get(`remote:${id}`) : 'file:///placeholder'
    if (url === undefined)
      throw new JobDescriptionError(
        'JOB_DESCRIPTION_FAILED',
        `remote ${id}: its URL is missing from the secrets file`,
      )
    remotes[id] = { url }
  }
  return remotes
}

/**
 * Checks a job object as `xapi-backup run` checks a description's job (remote ids must name stored
 * remotes); throws RunDescriptionError with `details.path` (`job.settings[''].x`) on the first
 * problem, returns the non-fatal warnings.
 */
export function checkStoredJob(
  store: Store,
  job: JsonObject,
  schedules: readonly ScheduleRecord[] = [],
): CheckedRunDescription['warnings'] {
  const scheduleId = schedules[0]?.id ?? manualScheduleId(typeof job['id'] === 'string' ? job['id'] : '')
  const document = {
    job: jobWithSchedules(job, schedules),
    remotes: remotesOf(store, job, false),
    schedule: { id: scheduleId },
    xapis: { placeholder: PLACEHOLDER_XAPI },
  }
  return checkRunDescription(document).warnings
}

/** What a run of a stored job asks for beyond the job: a VM subset and settings for this run only. */
export interface RunRequest {
  readonly scheduleId: string
  readonly vms?: readonly string[]
  /** Applied at the schedule level of this run (VM-level blocks of the job still win). */
  readonly settings?: JsonObject
}

/**
 * The run description of one run of `record` (every stored pool as a XAPI, the job's remotes with
 * their secret URLs), checked and with credentials resolved; RunDescriptionError when the stored
 * job no longer checks (a remote deleted since), JobDescriptionError when a secret is missing.
 */
export function buildRunDescription(
  store: Store,
  record: JobRecord,
  request: RunRequest,
): { description: RunDescription<Credential>; warnings: CheckedRunDescription['warnings'] } {
  const schedules = store.listSchedules(record.id)
  let job = jobWithSchedules({ ...record.job, id: record.id, name: record.name }, schedules)
  if (request.settings !== undefined) {
    const settings = job['settings'] as JsonObject
    const current = (settings[request.scheduleId] as JsonObject | undefined) ?? {}
    job = { ...job, settings: { ...settings, [request.scheduleId]: { ...current, ...request.settings } } }
  }
  if (request.vms !== undefined)
    job = {
      ...job,
      vms: { id: request.vms.length === 1 ? (request.vms[0] as string) : { __or: [...request.vms] } },
    }
  const xapis: Record<string, Json> = {}
  for (const pool of store.listPools()) {
    const password = store.secrets.get(`pool:${pool.id}`)
    if (password === undefined)
      throw new JobDescriptionError(
        'JOB_DESCRIPTION_FAILED',
        `pool ${pool.name} (${pool.id}): its password is missing from the secrets file`,
      )
    xapis[pool.id] = {
      url: pool.url,
      allowUnauthorized: pool.allowUnauthorized,
      credentials: { username: pool.username, password },
    }
  }
  const { description, warnings } = checkRunDescription({
    job,
    remotes: remotesOf(store, job, true),
    schedule: { id: request.scheduleId },
    xapis,
  })
  return { description: resolveLiterals(description), warnings }
}

/** Every credential of a description built here is a literal: unwrap the sources. */
function resolveLiterals(description: RunDescription): RunDescription<Credential> {
  const literal = (source: { kind: string; value?: Credential }, what: string): Credential => {
    if (source.kind !== 'literal' || source.value === undefined)
      throw new RunDescriptionError('CREDENTIAL_UNAVAILABLE', `${what}: expected a stored value`)
    return source.value instanceof CredentialValue ? source.value : new CredentialValue(String(source.value))
  }
  return {
    ...description,
    xapis: new Map(
      [...description.xapis].map(([id, xapi]) => [
        id,
        {
          ...xapi,
          credentials: {
            username: literal(xapi.credentials.username, `xapis.${id}.credentials.username`),
            password: literal(xapi.credentials.password, `xapis.${id}.credentials.password`),
          },
        },
      ]),
    ),
    remotes: new Map(
      [...description.remotes].map(([id, r]) => [id, { url: literal(r.url, `remotes.${id}.url`) }]),
    ),
  }
}
