// The steps of one VM run that talk to XAPI and the targets (xen-orchestra-backups.md §3.1 steps
// 3–5 and 7): base selection with every target, snapshot retention, and the tagged snapshot.
import type { Clock } from '../../shared/clock.ts'
import { serializeError } from '../../shared/errors.ts'
import { formatXapiDateTime, parseXapiDateTime } from '../../shared/timestamps.ts'
import type { Task } from '../../tasks/task.ts'
import type { VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import type { VmRunContext } from '../backup-target.ts'
import type { DiskPlan } from './base-selection.ts'
import { applyTargetVerdicts, baseCandidates, newestExported, planBases } from './base-selection.ts'
import type { JobSnapshots, VmDisk } from './job-snapshots.ts'
import { fetchJobSnapshots, readVmDisks, RecordReader } from './job-snapshots.ts'
import type { PowerGuard } from './offline.ts'
import { takeSnapshot } from './offline.ts'
import { snapshotName, tagSnapshot } from './snapshot-attributes.ts'
import { destroySnapshots, planSnapshotRetention } from './snapshot-retention.ts'
import type { TargetSet } from './target-set.ts'
import { targetName } from './target-set.ts'
import { VmRunError } from './vm-run-error.ts'

/**
 * Plans each disk's base, then lets every live target, in turn, remove from the candidates the
 * bases it cannot chain onto (the same map: what is left is the intersection). A target may only
 * remove: anything it added or changed is taken out again. A target without checkBaseVdis cannot
 * vouch for any base, so it empties the map.
 */
export async function selectBases(
  targets: TargetSet,
  context: VmRunContext,
  plan: { readonly disks: readonly VmDisk[]; readonly found: JobSnapshots; readonly fullInterval: number },
  task: Task,
): Promise<DiskPlan[]> {
  const first = planBases(plan.disks, plan.found.snapshots, plan.fullInterval)
  const candidates = baseCandidates(first)
  const refusedBy = new Map<string, string[]>()
  if (candidates.size > 0) {
    await targets.sequential('checkBaseVdis', async (target) => {
      const before = new Map(candidates)
      try {
        if (target.checkBaseVdis === undefined) candidates.clear()
        else await target.checkBaseVdis(context, candidates, task)
      } finally {
        for (const [base, live] of candidates) if (before.get(base) !== live) candidates.delete(base)
        for (const base of before.keys())
          if (!candidates.has(base)) refusedBy.set(base, [...(refusedBy.get(base) ?? []), targetName(target)])
      }
    })
  }
  return applyTargetVerdicts(first, candidates, refusedBy)
}

/** Logs why each full disk is full: a refused base is a warning, the rest is expected (info). */
export function logFullDisks(plan: readonly DiskPlan[], task: Task): void {
  for (const disk of plan) {
    if (disk.full === undefined || disk.full.code === 'full-mode') continue
    const message = `disk ${disk.name} (${disk.liveVdiUuid}) is exported whole: ${disk.full.reason}`
    const data = { vdi: disk.liveVdiUuid, reason: disk.full.code }
    if (disk.full.code === 'refused') task.warning(message, data)
    else task.info(message, data)
  }
}

/**
 * Reads the job's snapshots again and destroys those retention drops (keeping, in delta mode,
 * the newest exported group: the next run's base) and the idle leftovers of interrupted runs.
 * Never throws: failures are warnings (a snapshot left behind is retried by the next run).
 */
export async function pruneSnapshots(
  xapi: XapiClient,
  live: { readonly ref: XapiRef; readonly record: VmRecord },
  options: {
    readonly jobId: string
    readonly mode: 'full' | 'delta'
    readonly retentionOf: (scheduleId: string) => number
  },
  task: Task,
): Promise<void> {
  try {
    const reader = new RecordReader(xapi)
    const record = await xapi.getRecord('VM', live.ref)
    const disks = await readVmDisks(reader, record)
    const found = await fetchJobSnapshots(reader, { ref: live.ref, record, disks }, options.jobId)
    const keep = new Set(options.mode === 'delta' ? newestExported(found.snapshots) : [])
    const expired = planSnapshotRetention(found.snapshots, options.retentionOf, keep)
    const outcome = await destroySnapshots(
      xapi,
      [...found.leftovers.map((l) => ({ vm: l, vdis: [] })), ...expired],
      record.suspend_VDI,
    )
    if (outcome.removed.length > 0)
      task.info('old and leftover snapshots removed', {
        leftovers: found.leftovers.map((l) => l.record.uuid),
        removed: [...outcome.removed],
      })
    for (const { uuid, error } of outcome.failed)
      task.warning(
        `snapshot ${uuid} could not be removed: ${error instanceof Error ? error.message : String(error)}`,
        {
          uuid,
          error: serializeError(error),
        },
      )
  } catch (error) {
    task.warning(`snapshot retention failed: ${error instanceof Error ? error.message : String(error)}`, {
      error: serializeError(error),
    })
  }
}

/** The tagged snapshot a run exports. */
export interface TakenSnapshot {
  readonly ref: XapiRef
  readonly record: VmRecord
  readonly datetime: string
  readonly timestampMs: number
  readonly disks: readonly VmDisk[]
}

/** How the snapshot is taken and named. */
export interface SnapshotStepInput {
  readonly xapi: XapiClient
  readonly clock: Clock
  readonly vm: { readonly ref: XapiRef; readonly record: VmRecord }
  readonly job: { readonly id: string; readonly name: string }
  readonly scheduleId: string
  readonly checkpoint: boolean
  readonly ignoreVdis: readonly XapiRef[]
  /** Shut the VM down just for the snapshot (offlineSnapshot): restarted before this returns. */
  readonly offlineSnapshot: boolean
  /** The VM is down for the whole backup (offlineBackup): the datetime is the clock's, as XO's. */
  readonly offlineBackup: boolean
  readonly power: PowerGuard
  /** The datetime of this job's newest snapshot of the VM, if any (see SAME_SECOND_WAIT_MS). */
  readonly previousMs?: number | undefined
}

/**
 * Backups are named by their datetime to the second: a run right after another (tests, the demo,
 * a retry) waits for the next second rather than giving its backup the name of the previous one.
 * A previous datetime further ahead (a host clock ahead of ours) is not waited for: the targets
 * refuse a name that holds another snapshot (BACKUP_EXISTS).
 */
const SAME_SECOND_WAIT_MS = 2000

async function waitForNextSecond(input: SnapshotStepInput, task: Task): Promise<void> {
  if (input.previousMs === undefined) return
  const wait = Math.floor(input.previousMs / 1000) * 1000 + 1000 - input.clock.now()
  if (wait <= 0 || wait > SAME_SECOND_WAIT_MS) return
  task.info(`waited ${wait} ms: the previous snapshot of this job has this second's datetime`)
  await input.clock.sleep(wait, task.signal)
}

/**
 * Takes the snapshot (temporary name), makes it a non-template (XO: so an XVA of it imports as a
 * VM), tags it and its disks with the seed's attributes, then gives it its final name: a crash
 * before that leaves a temp-named leftover that retention removes.
 */
export async function snapshotStep(input: SnapshotStepInput, task: Task): Promise<TakenSnapshot> {
  const { xapi, vm } = input
  const { signal } = task
  await waitForNextSecond(input, task)
  if (input.offlineSnapshot) await input.power.shutDown(signal)
  let ref: XapiRef
  try {
    ref = await takeSnapshot(
      xapi,
      vm.ref,
      { checkpoint: input.checkpoint, ignoreVdis: input.ignoreVdis, signal },
      task,
    )
  } finally {
    if (input.offlineSnapshot)
      await input.power.restart().catch((error: unknown) => {
        // The run's final phase tries again and fails the VM if it still cannot.
        task.warning(`the VM could not be started after its offline snapshot: ${String(error)}`)
      })
  }
  await xapi.call('VM.set_is_a_template', [ref, false], { signal })
  const record = await xapi.getRecord('VM', ref, { signal })
  let timestampMs: number
  try {
    timestampMs = input.offlineBackup ? input.clock.now() : parseXapiDateTime(record.snapshot_time)
  } catch (error) {
    throw new VmRunError(
      'VM_SNAPSHOT_INVALID',
      `snapshot ${record.uuid}: snapshot_time ${JSON.stringify(record.snapshot_time)} is not a XAPI datetime`,
      { cause: error },
    )
  }
  const datetime = formatXapiDateTime(timestampMs)
  const disks = await readVmDisks(new RecordReader(xapi), record)
  await tagSnapshot(
    xapi,
    {
      vm: { ref, otherConfig: record.other_config },
      vdis: disks.map((d) => ({ ref: d.ref, uuid: d.record.uuid, otherConfig: d.record.other_config })),
    },
    { datetime, jobId: input.job.id, scheduleId: input.scheduleId, vmUuid: vm.record.uuid },
    signal,
  )
  await xapi.call('VM.set_name_label', [ref, snapshotName(input.job.name, vm.record.name_label)], { signal })
  const tagged = await xapi.getRecord('VM', ref, { signal })
  const taggedDisks = await readVmDisks(new RecordReader(xapi), tagged)
  return { ref, record: tagged, datetime, timestampMs, disks: taggedDisks }
}
