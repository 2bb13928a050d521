import { BackupError } from '../../shared/errors.ts'

/** Stable codes of target errors. */
export type TargetErrorCode =
  /** A Writer API call out of order (no lock held, another VM, a second beforeBackup). */
  | 'TARGET_STATE'
  /** A setting or an export this target cannot act on (exportRetention 0, a disk without VDI record…). */
  | 'TARGET_INVALID'
  /** A delta disk names a base this target did not accept in checkBaseVdis. */
  | 'BASE_UNKNOWN'
  /** The backup's metadata file exists already and holds another snapshot (two runs in one second). */
  | 'BACKUP_EXISTS'

/** An error of a backup target (the Writer API of src/engine/backup-target.ts). */
export class TargetError extends BackupError<TargetErrorCode> {}
