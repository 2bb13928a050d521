// One VM's backup from checks to snapshot, export and snapshot retention, in the order of
// xen-orchestra-backups.md §3.1: refusals; targets' beforeBackup; migration blocked; the job's
// snapshots; delta bases (§3.2) with every target; retention of old and leftover snapshots; offline
// handling and the tagged snapshot; the export to every target (§3.2 `_copy`, §3.3); then, whatever
// happened: restart, retention again, migration unblocked, every target's afterBackup.
import type { Clock } from '../../shared/clock.ts'
import { systemClock } from '../../shared/clock.ts'
import { serializeError } from '../../shared/errors.ts'
import { STEP } from '../../tasks/events.ts'
import type { Task } from '../../tasks/task.ts'
import { TaskSkipped } from '../../tasks/task.ts'
import type { VmRecord, XapiClient } from '../../xapi/types.ts'
import type { BackupTarget, VmRunContext } from '../backup-target.ts'
import type { RateLimiter } from '../rate-limit.ts'
import type { Compression } from '../run-description.ts'
import type { VmBackupSettings } from '../settings-schema.ts'
import type { DiskPlan } from './base-selection.ts'
import { fullPlan } from './base-selection.ts'
import { startDeadline, withSignal } from './deadline.ts'
import { fetchJobSnapshots, readVmDisks, RecordReader } from './job-snapshots.ts'
import { blockMigration, isMigrating } from './migration-block.ts'
import type { RestoreMigration } from './migration-block.ts'
import { NOBAK_MARKER, PowerGuard, TAG } from './offline.ts'
import { KEY } from './snapshot-attributes.ts'
import type { VmRunSources } from './sources.ts'
import { TargetSet, targetName } from './target-set.ts'
import { VmRunError } from './vm-run-error.ts'
import { exportSnapshot } from './vm-run-export.ts'
import { healthCheckStep } from './health-check-step.ts'
import type { TakenSnapshot } from './vm-run-steps.ts'
import { logFullDisks, pruneSnapshots, selectBases, snapshotStep } from './vm-run-steps.ts'

/** Everything one VM run needs; the caller (the job run) owns the VM task and concurrency. */
export interface VmRunInput {
  readonly xapi: XapiClient
  readonly job: {
    readonly id: string
    readonly name: string
    readonly mode: 'full' | 'delta'
    /** Full mode: XAPI's compression of the XVA (default none). */
    readonly compression?: Compression
  }
  readonly scheduleId: string
  readonly vmUuid: string
  /** Effective settings at (schedule, VM): snapshotRetention, fullInterval, offline*, checkpointSnapshot, unconditionalSnapshot, vmTimeout. */
  readonly settings: VmBackupSettings
  /** snapshotRetention of another schedule's snapshots (reference §1.1: that schedule's block, then this VM's); default: this run's. */
  readonly snapshotRetentionOf?: (scheduleId: string) => number
  /** The run's targets, each with its own settings; empty = snapshots only (snapshotRetention > 0). */
  readonly targets: readonly BackupTarget[]
  readonly sources: VmRunSources
  readonly clock?: Clock
  /** The job run's shared `maxExportRate` limiter. */
  readonly rateLimiter?: RateLimiter
}

/** What a VM run did (for the caller's VM task result and report). */
export interface VmRunResult {
  readonly snapshotUuid: string | undefined
  readonly timestampMs: number
  readonly isFull: boolean
  readonly fullDisks: readonly { readonly vdi: string; readonly reason: string }[]
  /** The targets that kept up to the end (the others were dropped with a warning). */
  readonly targets: readonly string[]
}

function refuse(vm: VmRecord, jobId: string): void {
  const details = { vm: vm.uuid }
  if (vm.other_config[KEY.job] === jobId && Object.hasOwn(vm.blocked_operations, 'start'))
    throw new VmRunError(
      'VM_CREATED_BY_JOB',
      `VM ${vm.uuid} was created by this job (a replica): it is not backed up by it`,
      { details },
    )
  if (isMigrating(vm))
    throw new VmRunError(
      'VM_MIGRATING',
      `VM ${vm.uuid} is being migrated: back it up once the migration is over`,
      { details },
    )
  if (vm.is_a_snapshot || vm.is_a_template || vm.is_control_domain)
    throw new VmRunError(
      'VM_NOT_BACKUPABLE',
      `VM ${vm.uuid} is a snapshot, a template or the control domain`,
      { details },
    )
}

function checkTargets(input: VmRunInput): void {
  const call = input.job.mode === 'delta' ? 'transfer' : 'runFull'
  const unfit = input.targets.filter((t) => t[call] === undefined)
  if (unfit.length > 0)
    throw new VmRunError(
      'VM_TARGET_UNSUPPORTED',
      `${unfit.map(targetName).join(', ')}: no ${call}, cannot take a ${input.job.mode} backup`,
    )
  if (input.targets.length === 0 && input.settings.snapshotRetention === 0)
    throw new VmRunError(
      'VM_RUN_NOTHING_TO_DO',
      `VM ${input.vmUuid}: no target and snapshotRetention 0: nothing would be kept`,
    )
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/**
 * Backs up one VM (see the file header for the order) under `task`, the VM's task that the
 * caller started (`{type: 'VM', id: uuid}`): its children are `snapshot` and one `export` per
 * target; dropped targets, full disks and cleanups are its warnings and infos. Throws VmRunError
 * (refusals, VM_RUN_TIMEOUT, VM_RESTART_FAILED), AllTargetsFailedError, or the failing step's
 * error — always after the VM was restarted, retention ran, migration was unblocked and every
 * target's afterBackup was called.
 */
export async function runVmBackup(input: VmRunInput, task: Task): Promise<VmRunResult> {
  const { xapi, job, settings } = input
  const clock = input.clock ?? systemClock
  const ref = await xapi.getByUuid('VM', input.vmUuid, { signal: task.signal })
  const vm = await xapi.getRecord('VM', ref, { signal: task.signal })
  refuse(vm, job.id)
  checkTargets(input)
  const live = { ref, record: vm }
  let step = 'beforeBackup'
  const deadline = startDeadline(task.signal, settings.vmTimeout, clock, {
    vmUuid: vm.uuid,
    step: () => step,
  })
  const main = withSignal(task, deadline.signal)
  const targets = new TargetSet(input.targets, task)
  const power = new PowerGuard(xapi, ref)
  const retentionOf = input.snapshotRetentionOf ?? (() => settings.snapshotRetention)
  const prune = { jobId: job.id, mode: job.mode, retentionOf }
  let context: VmRunContext = {
    job: { id: job.id, name: job.name, mode: job.mode },
    scheduleId: input.scheduleId,
    vm,
    timestampMs: clock.now(),
  }
  let restoreMigration: RestoreMigration | undefined
  let snapshot: TakenSnapshot | undefined
  let plan: DiskPlan[] = []
  let failure: { readonly error: unknown } | undefined
  try {
    await targets.parallel('beforeBackup', (target) => target.beforeBackup(context, main))
    step = 'migration block'
    restoreMigration = await blockMigration(xapi, ref, vm)
    step = 'job snapshots'
    const reader = new RecordReader(xapi)
    const liveDisks = await readVmDisks(reader, vm)
    const found = await fetchJobSnapshots(reader, { ...live, disks: liveDisks }, job.id)
    if (found.ignored.length > 0)
      main.info('inconsistent snapshots of this job left alone', {
        snapshots: found.ignored.map((i) => ({ ...i })),
      })
    const nobak = liveDisks.filter((d) => d.record.name_label.includes(NOBAK_MARKER))
    const disks = liveDisks.filter((d) => !nobak.includes(d))
    // XO's 'no disks found', which its logs show as skipped: a delta backup of nothing is no backup.
    if (job.mode === 'delta' && disks.length === 0)
      throw new TaskSkipped(
        `no disks found: VM ${vm.uuid} has no disk to back up (besides ${NOBAK_MARKER} ones)`,
      )
    if (nobak.length > 0)
      main.info(`disks named ${NOBAK_MARKER} are left out`, { vdis: nobak.map((d) => d.record.uuid) })
    if (job.mode === 'delta') {
      step = 'checkBaseVdis'
      plan = await selectBases(targets, context, { disks, found, fullInterval: settings.fullInterval }, main)
    } else plan = fullPlan(disks)
    step = 'snapshot retention'
    await pruneSnapshots(xapi, live, prune, main)

    const running = vm.power_state === 'Running'
    const offlineBackup = settings.offlineBackup && running
    const offlineSnapshot =
      !offlineBackup && running && (settings.offlineSnapshot || vm.tags.includes(TAG.offlineBackup))
    const needsSnapshot =
      job.mode === 'delta' ||
      settings.unconditionalSnapshot ||
      settings.snapshotRetention > 0 ||
      nobak.length > 0 ||
      (!offlineBackup && vm.power_state !== 'Halted' && vm.power_state !== 'Suspended')
    if (offlineBackup) {
      step = 'shutdown'
      await power.shutDown(main.signal)
    }
    if (needsSnapshot) {
      step = STEP.snapshot
      snapshot = await main.run(
        { message: STEP.snapshot },
        (snapshotTask) =>
          snapshotStep(
            {
              xapi,
              clock,
              vm: live,
              job,
              scheduleId: input.scheduleId,
              checkpoint: settings.checkpointSnapshot || vm.tags.includes(TAG.memoryBackup),
              ignoreVdis: nobak.map((d) => d.ref),
              offlineSnapshot,
              offlineBackup,
              power,
              previousMs: found.snapshots.at(-1)?.timeMs,
            },
            snapshotTask,
          ),
        { result: (s) => s.record.uuid },
      )
    }
    context = { ...context, timestampMs: snapshot?.timestampMs ?? clock.now() }
    if (targets.all.length > 0) {
      step = STEP.export
      plan = await exportSnapshot(
        {
          input,
          targets,
          context,
          live,
          snapshot,
          plan,
          signal: main.signal,
          log: (p) => {
            logFullDisks(p, main)
          },
        },
        main,
      )
      step = 'health check'
      await healthCheckStep({ xapi, vm, settings, targets, context, clock }, main)
    }
  } catch (error) {
    failure = { error }
  }
  deadline.stop()

  // Final phase: no deadline; each part runs whatever happened before it.
  let restartError: VmRunError | undefined
  await power.restart().catch((error: unknown) => {
    restartError = new VmRunError(
      'VM_RESTART_FAILED',
      `VM ${vm.uuid} was shut down for its backup and could not be started again: ${message(error)}`,
      { cause: error, details: { vm: vm.uuid } },
    )
    task.warning(restartError.message, { error: serializeError(error) })
  })
  await pruneSnapshots(xapi, live, prune, task)
  if (restoreMigration !== undefined)
    await restoreMigration().catch((error: unknown) => {
      task.warning(
        `migration of VM ${vm.uuid} could not be unblocked: remove pool_migrate and migrate_send from its blocked_operations: ${message(error)}`,
        { error: serializeError(error) },
      )
    })
  await Promise.all(
    targets.all.map((target) =>
      target.afterBackup(context, task).catch((error: unknown) => {
        task.warning(`${targetName(target)} failed at afterBackup: ${message(error)}`, {
          type: target.kind,
          id: target.id,
          step: 'afterBackup',
          error: serializeError(error),
        })
      }),
    ),
  )
  if (failure !== undefined) throw deadline.expired ?? failure.error
  if (restartError !== undefined) throw restartError
  return {
    snapshotUuid: snapshot?.record.uuid,
    timestampMs: context.timestampMs,
    isFull: job.mode === 'full' || plan.some((d) => d.base === undefined),
    fullDisks: plan.flatMap((d) =>
      d.full === undefined ? [] : [{ vdi: d.liveVdiUuid, reason: d.full.reason }],
    ),
    targets: targets.live.map(targetName),
  }
}
