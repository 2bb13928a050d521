// Snapshot retention on the pool (xen-orchestra-backups.md §3.1 "Snapshot retention", XO's
// `_removeUnusedSnapshots`): per schedule, keep the `snapshotRetention` newest datetimes of the
// job's snapshots and destroy the older ones; in delta mode never the next run's base. XO protects
// the newest snapshot whether or not it was exported, so after a failed export it keeps a useless
// snapshot and may destroy the base; we protect the newest *exported* group, the one §3.2 selects.
import { errorCode } from '../../shared/errors.ts'
import type { VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import type { JobSnapshot } from './job-snapshots.ts'
import { readVmDisks, RecordReader } from './job-snapshots.ts'

const NULL_REF = 'OpaqueRef:NULL'

/**
 * The job snapshots to destroy, oldest first: for each schedule (`xo:backup:schedule`) every
 * snapshot whose datetime is not among that schedule's `retentionOf(schedule)` newest, except
 * those in `keep`. Throws RangeError when a retention is not an integer >= 0.
 */
export function planSnapshotRetention(
  snapshots: readonly JobSnapshot[],
  retentionOf: (scheduleId: string) => number,
  keep: ReadonlySet<JobSnapshot>,
): JobSnapshot[] {
  const bySchedule = new Map<string, JobSnapshot[]>()
  for (const snapshot of snapshots) {
    const list = bySchedule.get(snapshot.scheduleId) ?? []
    list.push(snapshot)
    bySchedule.set(snapshot.scheduleId, list)
  }
  const remove = new Set<JobSnapshot>()
  for (const [scheduleId, list] of bySchedule) {
    const retention = retentionOf(scheduleId)
    if (!Number.isInteger(retention) || retention < 0)
      throw new RangeError(
        `snapshotRetention of schedule ${scheduleId}: expected an integer >= 0, got ${retention}`,
      )
    const times = [...new Set(list.map((s) => s.timeMs))].sort((a, b) => a - b)
    const kept = new Set(retention === 0 ? [] : times.slice(-retention))
    for (const snapshot of list) if (!kept.has(snapshot.timeMs) && !keep.has(snapshot)) remove.add(snapshot)
  }
  return snapshots.filter((s) => remove.has(s))
}

/** A snapshot to destroy: a snapshot VM (with its disks) or bare snapshot VDIs. */
export interface SnapshotToDestroy {
  readonly vm: { readonly ref: XapiRef; readonly record: VmRecord } | undefined
  readonly vdis: readonly { readonly ref: XapiRef; readonly record: { readonly uuid: string } }[]
}

/** What destroySnapshots did. */
export interface DestroyOutcome {
  /** uuids of the snapshot VMs (or bare VDIs) destroyed. */
  readonly removed: readonly string[]
  readonly failed: readonly { readonly uuid: string; readonly error: unknown }[]
}

const gone = (error: unknown): boolean => errorCode(error) === 'HANDLE_INVALID'

async function destroy(xapi: XapiClient, cls: 'VM' | 'VDI', ref: XapiRef): Promise<void> {
  try {
    if (cls === 'VM') await xapi.call('VM.destroy', [ref])
    else await xapi.call('VDI.destroy', [ref])
  } catch (error) {
    if (!gone(error)) throw error
  }
}

/**
 * Destroys each snapshot: the VM first (VM.destroy keeps disks, xapi.md §2.3), then its snapshot
 * VDIs and a checkpoint's memory VDI; every one is tried, failures are returned, not thrown. Of
 * the VM's disks only snapshot VDIs it alone holds are destroyed (never a CD or a shared disk);
 * `vdis` may be empty for a leftover, whose disks are read from the VM.
 */
export async function destroySnapshots(
  xapi: XapiClient,
  snapshots: readonly SnapshotToDestroy[],
  liveSuspendVdi: XapiRef,
): Promise<DestroyOutcome> {
  const removed: string[] = []
  const failed: { uuid: string; error: unknown }[] = []
  for (const snapshot of snapshots) {
    const uuid = snapshot.vm?.record.uuid ?? snapshot.vdis[0]?.record.uuid ?? '?'
    try {
      const vdis: XapiRef[] = snapshot.vdis.map((v) => v.ref)
      if (snapshot.vm !== undefined) {
        const reader = new RecordReader(xapi)
        const disks = await readVmDisks(reader, snapshot.vm.record)
        // Only disks this snapshot alone holds: never a live disk or one another VM still uses.
        for (const disk of disks)
          if (disk.record.is_a_snapshot && disk.record.VBDs.length === 1 && !vdis.includes(disk.ref))
            vdis.push(disk.ref)
        const memory = snapshot.vm.record.suspend_VDI
        if (memory !== NULL_REF && memory !== liveSuspendVdi && !vdis.includes(memory)) vdis.push(memory)
        await destroy(xapi, 'VM', snapshot.vm.ref)
      }
      for (const ref of vdis) await destroy(xapi, 'VDI', ref)
      removed.push(uuid)
    } catch (error) {
      failed.push({ uuid, error })
    }
  }
  return { removed, failed }
}
