// The run description (seed "API > Run description object"): job, recordToXapi, remotes,
// schedule, xapis. Checked field by field into typed data; credentials stay unresolved sources
// until resolveRunCredentials (ADR 0008).
import type { CredentialSource } from './credentials.ts'
import type { XapiDescription } from './connections.ts'
import { checkRemote, checkXapi } from './connections.ts'
import type { DescriptionFormat } from './description-text.ts'
import { formatOfFileName, parseDescriptionText } from './description-text.ts'
import type { UncheckedObject } from './fields.ts'
import { fieldOf, objectAt, oneOfAt, rejectUnknownFields, stringAt } from './fields.ts'
import { idsOfPattern } from './id-pattern.ts'
import type { FieldPath, RunDescriptionWarning } from './run-description-error.ts'
import {
  RunDescriptionError,
  formatPath,
  inFile,
  invalidField,
  invalidRelation,
} from './run-description-error.ts'
import type { SettingsBlocks } from './settings.ts'
import { checkSettings, resolveSettings } from './settings.ts'
import type { VmSelector } from './vm-selection.ts'
import { checkVmSelector } from './vm-selection.ts'

/** How a full backup's XVA is compressed by the host ('' none, 'native' gzip, 'zstd'). */
export type Compression = '' | 'native' | 'zstd'

/** The job part: what to back up, where, how. */
export interface JobDescription {
  readonly id: string
  readonly name: string
  readonly mode: 'full' | 'delta'
  readonly type: 'backup'
  readonly compression: Compression
  /** Remote ids of job.remotes, in order. */
  readonly remotes: readonly string[]
  /** SR uuids of job.srs (replication targets), in order. */
  readonly srs: readonly string[]
  readonly vms: VmSelector
  readonly settings: SettingsBlocks
}

/** A checked run description; `C` is CredentialSource before resolution, Credential after. */
export interface RunDescription<C = CredentialSource> {
  readonly job: JobDescription
  readonly recordToXapi: ReadonlyMap<string, string>
  readonly remotes: ReadonlyMap<string, { readonly url: C }>
  readonly schedule: { readonly id: string }
  readonly xapis: ReadonlyMap<string, XapiDescription<C>>
}

/** A checked description and the warnings found on the way (none of them fatal). */
export interface CheckedRunDescription {
  readonly description: RunDescription
  readonly warnings: readonly RunDescriptionWarning[]
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// Fields of XO job and schedule objects that carry nothing for a run; accepted so XO objects load.
const XO_JOB_FIELDS = ['userId', 'proxy', 'created_at', 'updated_at']
const XO_SCHEDULE_FIELDS = ['cron', 'enabled', 'jobId', 'name', 'timezone']

function entriesAt(value: unknown, path: FieldPath, expected: string): [string, unknown][] {
  return Object.entries(objectAt(value, path, expected))
}

function checkJob(
  job: UncheckedObject,
  scheduleId: string,
  remotes: ReadonlyMap<string, unknown>,
  warnings: RunDescriptionWarning[],
): JobDescription {
  const known = ['id', 'name', 'mode', 'type', 'compression', 'remotes', 'srs', 'vms', 'settings']
  rejectUnknownFields(job, ['job'], [...known, ...XO_JOB_FIELDS])
  if (fieldOf(job, 'proxy') !== undefined)
    warnings.push({ path: 'job.proxy', message: 'job.proxy: ignored, the job runs here, not on an XO proxy' })
  const id = fieldOf(job, 'id')
  // The job id names a directory of every delta chain (vdis/<job id>/, seed "File structure").
  if (typeof id !== 'string' || !UUID.test(id)) throw invalidField(['job', 'id'], 'a job uuid', id)
  const type = fieldOf(job, 'type') ?? 'backup'
  if (type !== 'backup')
    throw invalidField(['job', 'type'], "'backup' (mirror and metadata jobs are not supported)", type)
  const mode = oneOfAt(fieldOf(job, 'mode'), ['job', 'mode'], ['full', 'delta'])
  const compression = oneOfAt(
    fieldOf(job, 'compression') ?? '',
    ['job', 'compression'],
    ['', 'native', 'zstd'],
  )
  if (mode === 'delta' && compression !== '')
    warnings.push({
      path: 'job.compression',
      message: 'job.compression: ignored in delta mode (it applies to full XVA exports)',
    })
  const remoteIds =
    fieldOf(job, 'remotes') === undefined ? [] : idsOfPattern(fieldOf(job, 'remotes'), ['job', 'remotes'])
  remoteIds.forEach((remoteId, i) => {
    if (!remotes.has(remoteId))
      throw invalidRelation(
        remoteIds.length === 1 ? ['job', 'remotes', 'id'] : ['job', 'remotes', 'id', '__or', i],
        `a remote described in remotes (${[...remotes.keys()].join(', ') || 'none is'})`,
        `"${remoteId}", which has no entry there`,
      )
  })
  const srIds = fieldOf(job, 'srs') === undefined ? [] : idsOfPattern(fieldOf(job, 'srs'), ['job', 'srs'])
  srIds.forEach((sr, i) => {
    if (!UUID.test(sr))
      throw invalidField(
        srIds.length === 1 ? ['job', 'srs', 'id'] : ['job', 'srs', 'id', '__or', i],
        'an SR uuid',
        sr,
      )
  })
  const vms = checkVmSelector(fieldOf(job, 'vms'), ['job', 'vms'])
  const context = { scheduleId, remoteIds, srIds, vmIds: vms.kind === 'ids' ? vms.ids : undefined }
  const settings = checkSettings(fieldOf(job, 'settings'), ['job', 'settings'], context, warnings)
  return {
    id,
    name: stringAt(fieldOf(job, 'name') ?? '', ['job', 'name'], { allowEmpty: true }),
    mode,
    type,
    compression,
    remotes: remoteIds,
    srs: srIds,
    vms,
    settings,
  }
}

function checkRecordToXapi(
  value: unknown,
  xapis: ReadonlyMap<string, unknown>,
  job: JobDescription,
): Map<string, string> {
  const map = new Map<string, string>()
  for (const [objectId, xapiId] of value === undefined
    ? []
    : entriesAt(value, ['recordToXapi'], 'an object {objectId: xapiId}')) {
    if (typeof xapiId !== 'string' || !xapis.has(xapiId))
      throw invalidField(
        ['recordToXapi', objectId],
        `a XAPI id described in xapis (${[...xapis.keys()].join(', ')})`,
        xapiId,
      )
    map.set(objectId, xapiId)
  }
  if (xapis.size > 1) {
    const objects: [string, string][] = [
      ...(job.vms.kind === 'ids' ? job.vms.ids.map((id): [string, string] => ['VM', id]) : []),
      ...job.srs.map((id): [string, string] => ['SR', id]),
    ]
    for (const [kind, id] of objects)
      if (!map.has(id))
        throw invalidRelation(
          ['recordToXapi', id],
          `the XAPI holding ${kind} ${id} (${xapis.size} XAPIs are described)`,
          'no entry',
        )
  }
  return map
}

// Settings XO acts on whose feature is not built here: accepted (XO jobs load), never silently.
const NOT_BUILT: readonly {
  readonly name: 'preferNbd' | 'cbtDestroySnapshotData'
  readonly applies: (value: unknown) => boolean
  readonly consequence: string
}[] = [
  {
    name: 'preferNbd',
    applies: (v) => v === true,
    consequence: 'NBD is not built yet: disks are exported over HTTP, as XO does when no NBD is available',
  },
  {
    name: 'cbtDestroySnapshotData',
    applies: (v) => v === true,
    consequence: "CBT is not built yet: snapshots keep their data (XO's behaviour without CBT)",
  },
]

/** A warning per setting that asks for a feature not built yet (NOT_BUILT), naming where it is set. */
function warnNotBuilt(job: JobDescription, warnings: RunDescriptionWarning[]): void {
  for (const [key, { block }] of job.settings)
    for (const { name, applies, consequence } of NOT_BUILT) {
      if (!applies(block[name])) continue
      const path = formatPath(['job', 'settings', key, name])
      warnings.push({ path, message: `${path}: not applied, ${consequence}` })
    }
}

function checkCombinations(job: JobDescription, scheduleId: string, warnings: RunDescriptionWarning[]): void {
  warnNotBuilt(job, warnings)
  const vmKeys = [...job.settings].filter(([, b]) => b.level === 'vm').map(([key]) => key)
  const targets = [...job.remotes, ...job.srs]
  for (const vmId of [undefined, ...vmKeys])
    for (const targetId of [undefined, ...targets])
      resolveSettings(job.settings, {
        scheduleId,
        ...(vmId === undefined ? {} : { vmId }),
        ...(targetId === undefined ? {} : { targetId }),
      })
  for (const targetId of targets) {
    const { values } = resolveSettings(job.settings, { scheduleId, targetId })
    const isRemote = job.remotes.includes(targetId)
    if ((isRemote ? values.exportRetention : values.copyRetention) === 0) {
      const name = isRemote ? 'exportRetention' : 'copyRetention'
      const path = isRemote ? 'job.remotes' : 'job.srs'
      warnings.push({
        path,
        message: `${path}: ${targetId} gets nothing unless a VM's settings say otherwise: ${name} is 0 for it (set ${name} in settings[''])`,
      })
    }
  }
  if (targets.length === 0 && resolveSettings(job.settings, { scheduleId }).values.snapshotRetention === 0)
    warnings.push({
      path: 'job',
      message:
        'job: no remote, no SR and snapshotRetention 0: the run does nothing unless a VM sets snapshotRetention',
    })
}

/** Checks parsed data as a run description; the first problem throws RUN_DESCRIPTION_INVALID naming its path. */
export function checkRunDescription(value: unknown): CheckedRunDescription {
  const warnings: RunDescriptionWarning[] = []
  const root = objectAt(value, [], 'an object with job, schedule, xapis (and remotes, recordToXapi)')
  rejectUnknownFields(root, [], ['job', 'recordToXapi', 'remotes', 'schedule', 'xapis'])
  const schedule = objectAt(fieldOf(root, 'schedule'), ['schedule'], '{id: …}')
  rejectUnknownFields(schedule, ['schedule'], ['id', ...XO_SCHEDULE_FIELDS])
  const scheduleId = stringAt(fieldOf(schedule, 'id'), ['schedule', 'id'])
  const xapiEntries = entriesAt(fieldOf(root, 'xapis'), ['xapis'], 'an object {xapiId: {url, credentials}}')
  if (xapiEntries.length === 0) throw invalidRelation(['xapis'], 'at least one XAPI', 'an empty object')
  const xapis = new Map(xapiEntries.map(([id, x]) => [id, checkXapi(x, ['xapis', id])]))
  const remotesValue = fieldOf(root, 'remotes')
  const remotes = new Map(
    (remotesValue === undefined
      ? []
      : entriesAt(remotesValue, ['remotes'], 'an object {remoteId: {url}}')
    ).map(([id, r]) => [id, checkRemote(r, ['remotes', id])]),
  )
  const job = checkJob(objectAt(fieldOf(root, 'job'), ['job']), scheduleId, remotes, warnings)
  const recordToXapi = checkRecordToXapi(fieldOf(root, 'recordToXapi'), xapis, job)
  checkCombinations(job, scheduleId, warnings)
  return { description: { job, recordToXapi, remotes, schedule: { id: scheduleId }, xapis }, warnings }
}

/**
 * Parses and checks the text of a run description file (`format` from the file name unless
 * given); every error's message starts with `file` and names a line/column or a field path.
 */
export function parseRunDescription(
  text: string,
  file: string,
  format?: DescriptionFormat,
): CheckedRunDescription {
  const data = parseDescriptionText(text, format ?? formatOfFileName(file), file)
  try {
    return checkRunDescription(data)
  } catch (error) {
    throw error instanceof RunDescriptionError ? inFile(error, file) : error
  }
}

/** The XAPI holding `objectId` (a VM or SR uuid): recordToXapi's entry, else the only XAPI described. */
export function xapiIdFor(description: RunDescription<unknown>, objectId: string): string {
  const mapped = description.recordToXapi.get(objectId)
  if (mapped !== undefined) return mapped
  const [only, ...others] = description.xapis.keys()
  if (only !== undefined && others.length === 0) return only
  throw invalidRelation(['recordToXapi', objectId], `the XAPI holding ${objectId}`, 'no entry')
}
