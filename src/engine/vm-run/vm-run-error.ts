// Errors of one VM run (xen-orchestra-backups.md §3.1, §7): refusals, the vmTimeout abort, a VM
// left down, and every target failing.
import { BackupError, serializeError } from '../../shared/errors.ts'
import type { JsonObject } from '../../shared/json.ts'

/** Stable codes of VmRunError. */
export type VmRunErrorCode =
  /** The VM carries this job's id and a blocked `start`: a replica this job made (XO refuses it too). */
  | 'VM_CREATED_BY_JOB'
  /** `current_operations` holds `migrate_send` or `pool_migrate`. */
  | 'VM_MIGRATING'
  /** A snapshot, a template or the control domain was given as the VM to back up. */
  | 'VM_NOT_BACKUPABLE'
  /** The run exceeded the `vmTimeout` setting (ms); snapshot handling and the restart still ran. */
  | 'VM_RUN_TIMEOUT'
  /** No target and `snapshotRetention` 0: the run would make a snapshot only to delete it. */
  | 'VM_RUN_NOTHING_TO_DO'
  /** The VM was shut down for the backup and could not be started again. */
  | 'VM_RESTART_FAILED'
  /** A target lacks the Writer API call of the job's mode (transfer for delta, runFull for full). */
  | 'VM_TARGET_UNSUPPORTED'
  /** What XAPI answered about the new snapshot is not usable (no disk record, bad snapshot_time…). */
  | 'VM_SNAPSHOT_INVALID'
  /** The backup was written but a target's health check failed (the VM did not boot to its guest tools). */
  | 'VM_HEALTH_CHECK_FAILED'

/** A VM run refused or stopped; `details` name the VM (and the step, for a timeout). */
export class VmRunError extends BackupError<VmRunErrorCode> {}

/** One target dropped from a VM run: which, at which Writer API step, and why. */
export interface TargetFailure {
  readonly kind: 'remote' | 'SR'
  readonly id: string
  readonly step: string
  readonly error: unknown
}

function describe(failure: TargetFailure): string {
  const reason = failure.error instanceof Error ? failure.error.message : String(failure.error)
  return `${failure.kind} ${failure.id} at ${failure.step}: ${reason}`
}

/**
 * Every target of the VM run failed (reference §7: XO's `all targets have failed, step: …`).
 * An AggregateError so `errors` holds each cause (serializeError logs them all); `code` is stable
 * like a BackupError's, which it cannot extend (AggregateError and Error are separate classes).
 */
export class AllTargetsFailedError extends AggregateError {
  readonly code = 'VM_ALL_TARGETS_FAILED'
  readonly failures: readonly TargetFailure[]

  constructor(failures: readonly TargetFailure[]) {
    super(
      failures.map((f) => f.error),
      `every target failed: ${failures.map(describe).join('; ')}`,
    )
    this.failures = failures
  }

  override get name(): string {
    return 'AllTargetsFailedError'
  }

  /** The serialised form (name, code, message, every cause). */
  toJSON(): JsonObject {
    return serializeError(this)
  }
}
