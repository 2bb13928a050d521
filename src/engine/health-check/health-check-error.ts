// Errors of the health check (xen-orchestra-backups.md §1.2 healthCheck*, §5.1; xapi.md §2.6):
// each names the VM (name and uuid) and, for a timeout, the budget and the phase it ran out in.
import { BackupError } from '../../shared/errors.ts'

/** Stable codes of HealthCheckError. */
export type HealthCheckErrorCode =
  /** `healthCheckTimeout` ran out before the VM started, ran, or its guest reported PV drivers. */
  | 'HEALTH_CHECK_TIMEOUT'
  /** XAPI refused or failed `VM.start` of the VM under check (its error is the cause). */
  | 'HEALTH_CHECK_START_FAILED'
  /** The VM halted, was suspended or vanished while its guest tools were awaited. */
  | 'HEALTH_CHECK_VM_STOPPED'
  /** The VM given is not a disposable one (a snapshot, a template, the control domain, not halted): left untouched. */
  | 'HEALTH_CHECK_VM_REFUSED'
  /** The VM to check could not be made (clone or copy of a replica refused or failed). */
  | 'HEALTH_CHECK_PREPARE_FAILED'
  /** The check itself passed but the VM or some of its disks could not be destroyed. */
  | 'HEALTH_CHECK_CLEANUP_FAILED'
  /** An option out of range (a timeout that is not a positive number, a ref that is not an OpaqueRef). */
  | 'HEALTH_CHECK_OPTION_INVALID'

/** A failed or refused health check; `details` name the VM (`vm` uuid, `name`) and what went wrong. */
export class HealthCheckError extends BackupError<HealthCheckErrorCode> {}

/** `12 min`, `90 s`, `1500 ms`: a budget as a person wrote it, for messages. */
export function formatBudget(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`
  return `${ms} ms`
}
