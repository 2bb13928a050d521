import { BackupError } from '../../shared/errors.ts'

/** Stable codes of restore errors. */
export type RestoreErrorCode =
  /** The backup cannot be restored as it is (files missing, a disk without record, a broken chain). */
  | 'RESTORE_BACKUP_UNUSABLE'
  /** What the caller asked does not fit the backup or the pool (an unknown disk in the SR map…). */
  | 'RESTORE_INVALID'
  /** A VIF of the backup matches no network of the target pool, and the pool has no default network. */
  | 'RESTORE_NETWORK_UNMAPPED'
  /** XAPI refused or failed a step of the import; `details.object` names what was being made. */
  | 'RESTORE_IMPORT_FAILED'
  /** Asked of a backup kind this code does not restore (an SR map on a full backup). */
  | 'RESTORE_UNSUPPORTED'

/**
 * An error of a restore or an import onto an SR: the message names the object (backup id, VDI,
 * VIF, SR) and what went wrong; `cause` is XAPI's or the repository's error.
 */
export class RestoreError extends BackupError<RestoreErrorCode> {}
