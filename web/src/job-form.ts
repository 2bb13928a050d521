// The job editor's model: a job object (the seed's: name, mode, remotes, srs, vms, settings) as
// form fields and back, keeping what the form does not show, and which field an API error names.
import type { Json, JsonObject } from '../../src/shared/json.ts'

/** The settings the form edits in `settings['']` (job-wide); the rest is advanced JSON. */
export const COMMON_SETTINGS = [
  'exportRetention',
  'copyRetention',
  'snapshotRetention',
  'concurrency',
  'timeout',
  'reportWhen',
] as const

/** One of COMMON_SETTINGS. */
export type CommonSetting = (typeof COMMON_SETTINGS)[number]

/** The editor's state: text as typed, ids as lists. */
export interface JobForm {
  readonly name: string
  readonly mode: 'full' | 'delta'
  readonly compression: string
  readonly remotes: readonly string[]
  readonly srs: readonly string[]
  readonly vmsMode: 'ids' | 'smart'
  readonly vmIds: readonly string[]
  readonly smartJson: string
  readonly common: Readonly<Record<CommonSetting, string>>
  /** `settings` without the common fields of `settings['']`, as JSON text. */
  readonly advancedJson: string
}

/** A form field an error can point at. */
export type FormField =
  'name' | 'mode' | 'compression' | 'remotes' | 'srs' | 'vms' | 'advanced' | CommonSetting

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The ids of an IdPattern (`{id: 'x'}`, `{id: {__or: [...]}}`), or undefined for anything else. */
export function idsOfPattern(pattern: Json | undefined): string[] | undefined {
  if (pattern === undefined) return []
  if (!isObject(pattern) || Object.keys(pattern).length !== 1) return undefined
  const id = pattern.id
  if (typeof id === 'string') return [id]
  if (isObject(id) && Object.keys(id).length === 1 && Array.isArray(id.__or)) {
    const or: readonly Json[] = id.__or
    return or.every((item) => typeof item === 'string') ? (or as string[]) : undefined
  }
  return undefined
}

/** The IdPattern the engine reads for `ids`: `{id: x}` for one, `{id: {__or: [...]}}` for more. */
export function idPattern(ids: readonly string[]): JsonObject {
  return ids.length === 1 && ids[0] !== undefined ? { id: ids[0] } : { id: { __or: [...ids] } }
}

const text = (value: Json | undefined): string =>
  value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value)

/** The form showing `job` (a new job's form when undefined). */
export function formOfJob(job: JsonObject | undefined): JobForm {
  const settings = isObject(job?.settings) ? job.settings : {}
  const jobWide = isObject(settings['']) ? settings[''] : {}
  const rest: Record<string, Json> = {}
  for (const [key, value] of Object.entries(jobWide))
    if (!(COMMON_SETTINGS as readonly string[]).includes(key)) rest[key] = value
  const advanced: Record<string, Json> = { ...settings }
  if (Object.keys(rest).length === 0) delete advanced['']
  else advanced[''] = rest
  const vmIds = idsOfPattern(job?.vms)
  const common = Object.fromEntries(COMMON_SETTINGS.map((key) => [key, text(jobWide[key])])) as Record<
    CommonSetting,
    string
  >
  return {
    name: typeof job?.name === 'string' ? job.name : '',
    mode: job?.mode === 'full' ? 'full' : 'delta',
    compression: typeof job?.compression === 'string' ? job.compression : '',
    remotes: idsOfPattern(job?.remotes) ?? [],
    srs: idsOfPattern(job?.srs) ?? [],
    vmsMode: vmIds === undefined ? 'smart' : 'ids',
    vmIds: vmIds ?? [],
    smartJson: vmIds === undefined ? JSON.stringify(job?.vms, null, 2) : '',
    common,
    advancedJson: Object.keys(advanced).length === 0 ? '' : JSON.stringify(advanced, null, 2),
  }
}

/** A form that cannot become a job: what is wrong and where. */
export interface FormProblem {
  readonly field: FormField
  readonly message: string
}

/** A value built from the form, or the first problem found. */
export type Built<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: FormProblem }

const fail = (field: FormField, message: string): { readonly ok: false; readonly problem: FormProblem } => ({
  ok: false,
  problem: { field, message },
})

// Integers are sent as numbers; anything else as typed, so the server's check names the field.
const settingValue = (key: CommonSetting, value: string): Json =>
  key !== 'reportWhen' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value.trim()

function parseObject(source: string, field: FormField, what: string): Built<JsonObject> {
  if (source.trim() === '') return { ok: true, value: {} }
  try {
    const value = JSON.parse(source) as Json
    if (isObject(value)) return { ok: true, value }
  } catch (error) {
    return fail(field, `${what}: ${error instanceof Error ? error.message : 'invalid JSON'}`)
  }
  return fail(field, `${what}: expected a JSON object`)
}

function settingsOf(form: JobForm): Built<JsonObject> {
  const advanced = parseObject(form.advancedJson, 'advanced', 'advanced settings')
  if (!advanced.ok) return advanced
  const given = advanced.value['']
  if (given !== undefined && !isObject(given))
    return fail('advanced', "advanced settings: settings[''] must be an object")
  const jobWide: Record<string, Json> = { ...given }
  for (const key of COMMON_SETTINGS) {
    const value = form.common[key]
    if (value.trim() === '') continue
    if (Object.hasOwn(jobWide, key))
      return fail(key, `${key} is set both in the form and in the advanced JSON`)
    jobWide[key] = settingValue(key, value)
  }
  return { ok: true, value: { ...advanced.value, '': jobWide } }
}

function vmsOf(form: JobForm): Built<Json> {
  if (form.vmsMode === 'smart') {
    const pattern = parseObject(form.smartJson, 'vms', 'smart pattern')
    if (pattern.ok && Object.keys(pattern.value).length === 0)
      return fail('vms', 'smart pattern: give at least one property, e.g. {"power_state": "Running"}')
    return pattern
  }
  if (form.vmIds.length === 0) return fail('vms', 'select at least one VM')
  return { ok: true, value: idPattern(form.vmIds) }
}

/**
 * The job object of `form`, keeping the fields of `base` the form does not edit (id, type, …);
 * or the first problem the form itself can see (JSON that does not parse, no name, no VM).
 */
export function jobOfForm(form: JobForm, base: JsonObject | undefined): Built<JsonObject> {
  if (form.name.trim() === '') return fail('name', 'the job needs a name')
  const settings = settingsOf(form)
  if (!settings.ok) return settings
  const vms = vmsOf(form)
  if (!vms.ok) return vms
  const job: Record<string, Json> = {
    ...base,
    name: form.name.trim(),
    mode: form.mode,
    vms: vms.value,
    settings: settings.value,
  }
  delete job.remotes
  delete job.srs
  delete job.compression
  if (form.remotes.length > 0) job.remotes = idPattern(form.remotes)
  if (form.srs.length > 0) job.srs = idPattern(form.srs)
  if (form.compression !== '') job.compression = form.compression
  return { ok: true, value: job }
}

const TOP_FIELDS: Readonly<Record<string, FormField>> = {
  name: 'name',
  mode: 'mode',
  compression: 'compression',
  remotes: 'remotes',
  srs: 'srs',
  vms: 'vms',
  settings: 'advanced',
}

/** The form field an API error `path` (`job.settings[''].exportRetention`) points at, if any. */
export function fieldOfErrorPath(path: string | undefined): FormField | undefined {
  if (path === undefined) return undefined
  const rest = path.replace(/^job(\.|$)/, '')
  const common = /^settings\[(?:''|"")\]\.([A-Za-z]+)/.exec(rest)?.[1]
  if (common !== undefined && (COMMON_SETTINGS as readonly string[]).includes(common))
    return common as CommonSetting
  const top = /^[A-Za-z]+/.exec(rest)?.[0]
  return top === undefined ? undefined : TOP_FIELDS[top]
}
