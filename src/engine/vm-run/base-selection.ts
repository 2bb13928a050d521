// Delta base selection, pure planning (xen-orchestra-backups.md §3.2): which snapshot each disk is
// exported as a delta over, or why that disk is full. Unlike XO, every decision is per disk and
// carries its reason for the log: a new or resized disk, a chain that reached fullInterval, or a
// base a target refused make that disk full, not the whole VM (XO resets the chain length of every
// disk when any one is full, so the other chains grow past fullInterval).
import type { XapiRef } from '../../xapi/types.ts'
import type { JobSnapshot, VmDisk } from './job-snapshots.ts'
import { chainLengthOf } from './snapshot-attributes.ts'

/** Why a disk is exported whole. */
export type FullReasonCode = 'full-mode' | 'no-base' | 'new-disk' | 'resized' | 'full-interval' | 'refused'

/** The base a disk is exported over. */
export interface Base {
  readonly ref: XapiRef
  readonly uuid: string
  readonly virtualSize: number
  /** Deltas since the last full of this disk, at the base. */
  readonly chainLength: number
}

/** The decision for one live disk. */
export interface DiskPlan {
  readonly liveVdiRef: XapiRef
  readonly liveVdiUuid: string
  readonly name: string
  readonly base: Base | undefined
  /** Set exactly when `base` is undefined. */
  readonly full: { readonly code: FullReasonCode; readonly reason: string } | undefined
}

/** The exported job snapshots of the newest exported datetime: the only base candidates (§3.2). */
export function newestExported(snapshots: readonly JobSnapshot[]): readonly JobSnapshot[] {
  const exported = snapshots.filter((s) => s.exported)
  const newest = Math.max(...exported.map((s) => s.timeMs))
  return exported.filter((s) => s.timeMs === newest)
}

const full = (disk: VmDisk, code: FullReasonCode, reason: string): DiskPlan => ({
  liveVdiRef: disk.ref,
  liveVdiUuid: disk.record.uuid,
  name: disk.record.name_label,
  base: undefined,
  full: { code, reason },
})

/**
 * First pass, before asking the targets: for each live disk, the snapshot of it in the newest
 * exported group, unless there is none (`no-base`: first run or no successful export yet;
 * `new-disk`: the disk was added since), its size changed (`resized`), or `fullInterval` (0 =
 * never) is reached: a key backup every `fullInterval` runs, as XO's `fullInterval <= length + 1`.
 */
export function planBases(
  liveDisks: readonly VmDisk[],
  snapshots: readonly JobSnapshot[],
  fullInterval: number,
): DiskPlan[] {
  const group = newestExported(snapshots)
  const at = group[0]?.datetime
  const bases = group.flatMap((s) => s.vdis)
  return liveDisks.map((disk) => {
    if (at === undefined)
      return full(
        disk,
        'no-base',
        'no exported snapshot of this job and VM (first backup, or none succeeded yet)',
      )
    const base = bases.find((vdi) => vdi.record.snapshot_of === disk.ref)
    if (base === undefined)
      return full(disk, 'new-disk', `no exported snapshot of this disk at ${at}: it was added since`)
    const was = base.record.virtual_size
    const now = disk.record.virtual_size
    if (was !== now) return full(disk, 'resized', `resized from ${was} to ${now} bytes since ${at}`)
    const chainLength = chainLengthOf(base.record.other_config)
    if (fullInterval !== 0 && fullInterval <= chainLength + 1)
      return full(
        disk,
        'full-interval',
        `fullInterval ${fullInterval} reached (${chainLength} deltas since its last full)`,
      )
    return {
      liveVdiRef: disk.ref,
      liveVdiUuid: disk.record.uuid,
      name: disk.record.name_label,
      base: { ref: base.ref, uuid: base.record.uuid, virtualSize: was, chainLength },
      full: undefined,
    }
  })
}

/** Full mode: every disk is in the XVA, none has a base. */
export function fullPlan(liveDisks: readonly VmDisk[]): DiskPlan[] {
  return liveDisks.map((disk) => full(disk, 'full-mode', 'full backup mode'))
}

/** The map every target's checkBaseVdis edits: base snapshot VDI uuid → live VDI uuid. */
export function baseCandidates(plan: readonly DiskPlan[]): Map<string, string> {
  return new Map(plan.flatMap((d) => (d.base === undefined ? [] : [[d.base.uuid, d.liveVdiUuid] as const])))
}

/**
 * Second pass, after every target's checkBaseVdis: a base missing from `survivors` makes its disk
 * full (`refused`), naming the targets that removed it (`refusedBy`: base uuid → target names).
 */
export function applyTargetVerdicts(
  plan: readonly DiskPlan[],
  survivors: ReadonlyMap<string, string>,
  refusedBy: ReadonlyMap<string, readonly string[]>,
): DiskPlan[] {
  return plan.map((disk) => {
    if (disk.base === undefined || survivors.get(disk.base.uuid) === disk.liveVdiUuid) return disk
    const who = refusedBy.get(disk.base.uuid) ?? []
    const by = who.length === 0 ? 'a target' : who.join(', ')
    return {
      ...disk,
      base: undefined,
      full: { code: 'refused', reason: `${by} cannot chain onto base snapshot VDI ${disk.base.uuid}` },
    }
  })
}

/**
 * Last check, once the new snapshot exists: a disk whose snapshot's size differs from its base's
 * (resized between the planning and the snapshot) is full (`resized`).
 */
export function recheckSizes(
  plan: readonly DiskPlan[],
  snapshotSizes: ReadonlyMap<string, number>,
): DiskPlan[] {
  return plan.map((disk) => {
    const size = snapshotSizes.get(disk.liveVdiUuid)
    if (disk.base === undefined || size === undefined || size === disk.base.virtualSize) return disk
    return {
      ...disk,
      base: undefined,
      full: {
        code: 'resized',
        reason: `resized from ${disk.base.virtualSize} to ${size} bytes during the run`,
      },
    }
  })
}
