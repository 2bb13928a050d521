// Which VMs a job backs up (job.vms): a list of ids, or a "smart" pattern over VM properties
// evaluated at run time, with XO's exclusions (xen-orchestra-backups.md §1.5).
import type { VmRecord } from '../xapi/types.ts'
import { isPlainObject, listOf } from './fields.ts'
import type { ValuePattern } from './id-pattern.ts'
import { checkPattern, idsOfPattern, matchesPattern } from './id-pattern.ts'
import type { FieldPath } from './run-description-error.ts'
import { invalidField, invalidRelation } from './run-description-error.ts'

/** job.vms checked: explicit ids (the seed's IdPattern) or a smart pattern over VM properties. */
export type VmSelector =
  | { readonly kind: 'ids'; readonly ids: readonly string[] }
  | { readonly kind: 'smart'; readonly pattern: { readonly [property: string]: ValuePattern } }

/** A VM as selection sees it: its record's fields and the uuid of the pool it lives in. */
export type VmCandidate = Pick<
  VmRecord,
  | 'uuid'
  | 'name_label'
  | 'name_description'
  | 'power_state'
  | 'tags'
  | 'other_config'
  | 'blocked_operations'
  | 'is_a_template'
  | 'is_a_snapshot'
  | 'is_control_domain'
> & { readonly poolUuid: string }

/** The outcome: VMs to back up, VMs the pattern matched but XO's rules exclude, ids not found. */
export interface VmSelection {
  readonly selected: readonly VmCandidate[]
  readonly excluded: readonly { readonly vm: VmCandidate; readonly reason: string }[]
  readonly missing: readonly string[]
}

const POWER_STATES: readonly string[] = ['Running', 'Halted', 'Paused', 'Suspended']
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const stringLeaf =
  (what: string) =>
  (leaf: unknown, path: FieldPath): void => {
    if (typeof leaf !== 'string' || leaf === '') throw invalidField(path, what, leaf)
  }

// The properties a smart pattern may test, with what their leaves must look like. XO's names:
// `$pool` (pool uuid), `power_state`, `tags` (an array pattern: the VM has all those tags).
const PROPERTIES: Readonly<Record<string, (leaf: unknown, path: FieldPath) => void>> = {
  type: (leaf, path) => {
    if (leaf !== 'VM') throw invalidField(path, "'VM'", leaf)
  },
  $pool: stringLeaf('a pool uuid'),
  power_state: (leaf, path) => {
    if (typeof leaf !== 'string' || !POWER_STATES.includes(leaf))
      throw invalidField(path, listOf(POWER_STATES.map((s) => `'${s}'`)), leaf)
  },
  tags: (leaf, path) => {
    if (!Array.isArray(leaf))
      throw invalidField(
        path,
        "an array of tags the VM must all have (e.g. ['prod']), or {__or: [['a'], ['b']]}",
        leaf,
      )
    leaf.forEach((tag, i) => {
      stringLeaf('a tag string')(tag, [...path, i])
    })
  },
  name_label: stringLeaf('a VM name'),
  name_description: stringLeaf('a VM description'),
}

/**
 * Checks job.vms: `{id: …}` gives explicit VM uuids; any other object is a smart pattern whose
 * properties are those of PROPERTIES (an unknown one would match nothing, so it is an error).
 */
export function checkVmSelector(value: unknown, path: FieldPath): VmSelector {
  if (!isPlainObject(value))
    throw invalidField(path, "an IdPattern {id: …} or a smart pattern like {power_state: 'Running'}", value)
  if (Object.hasOwn(value, 'id')) {
    const ids = idsOfPattern(value, path)
    ids.forEach((id, i) => {
      if (!UUID.test(id))
        throw invalidField(ids.length === 1 ? [...path, 'id'] : [...path, 'id', '__or', i], 'a VM uuid', id)
    })
    return { kind: 'ids', ids }
  }
  const known = Object.keys(PROPERTIES)
  if (Object.keys(value).length === 0)
    throw invalidRelation(
      path,
      `a smart pattern testing at least one of ${known.join(', ')}`,
      'an empty object',
    )
  const pattern: Record<string, ValuePattern> = {}
  for (const [key, sub] of Object.entries(value)) {
    const leaf = PROPERTIES[key]
    if (leaf === undefined)
      throw invalidRelation([...path, key], `a VM property among ${known.join(', ')}`, 'an unknown property')
    pattern[key] = checkPattern(sub, [...path, key], leaf)
  }
  return { kind: 'smart', pattern }
}

/** True when a tag means "never back this VM up": `xo:no-bak` or `xo:no-bak=<reason>`. */
export function isNoBackupTag(tag: string): boolean {
  return tag.split('=', 1)[0] === 'xo:no-bak'
}

/** Why XO's smart mode would skip `vm` for job `jobId`, or undefined. */
export function exclusionReason(vm: VmCandidate, jobId: string): string | undefined {
  // A replica this very job made: backing it up would replicate replicas forever.
  if (Object.hasOwn(vm.blocked_operations, 'start') && vm.other_config['xo:backup:job'] === jobId)
    return 'a replica created by this job (start blocked, other_config xo:backup:job is this job)'
  const tag = vm.tags.find(isNoBackupTag)
  if (tag !== undefined) return `tagged ${JSON.stringify(tag)}`
  return undefined
}

const isPlainVm = (vm: VmCandidate): boolean =>
  !vm.is_a_template && !vm.is_a_snapshot && !vm.is_control_domain

/** The object a smart pattern is matched against (XO's shape: `type`, `$pool`, …). */
export function smartMatchView(vm: VmCandidate): Readonly<Record<string, unknown>> {
  return {
    type: 'VM',
    $pool: vm.poolUuid,
    power_state: vm.power_state,
    tags: vm.tags,
    name_label: vm.name_label,
    name_description: vm.name_description,
  }
}

/**
 * Applies `selector` to the VMs of the pools: ids are taken as listed (those absent, or not a
 * plain VM, are `missing`; XO applies no exclusion to a list), a smart pattern keeps plain VMs
 * (no template, snapshot or dom0) that match, minus XO's exclusions (`excluded` with reasons).
 */
export function selectVms(
  selector: VmSelector,
  candidates: readonly VmCandidate[],
  jobId: string,
): VmSelection {
  if (selector.kind === 'ids') {
    const byUuid = new Map(candidates.filter(isPlainVm).map((vm) => [vm.uuid, vm]))
    const selected: VmCandidate[] = []
    const missing: string[] = []
    for (const id of selector.ids) {
      const vm = byUuid.get(id)
      if (vm === undefined) missing.push(id)
      else selected.push(vm)
    }
    return { selected, excluded: [], missing }
  }
  const selected: VmCandidate[] = []
  const excluded: { vm: VmCandidate; reason: string }[] = []
  for (const vm of candidates) {
    if (!isPlainVm(vm) || !matchesPattern(selector.pattern, smartMatchView(vm))) continue
    const reason = exclusionReason(vm, jobId)
    if (reason === undefined) selected.push(vm)
    else excluded.push({ vm, reason })
  }
  return { selected, excluded, missing: [] }
}
