import { BackupError } from '../shared/errors.ts'

/** Stable codes of repository errors. */
export type RepositoryErrorCode =
  | 'RETENTION_INVALID'
  | 'PATH_INVALID'
  | 'METADATA_INVALID'
  | 'METADATA_UNSUPPORTED_VERSION'
  | 'CHECKSUM_MISMATCH'
  | 'BACKUP_NOT_FOUND'
  | 'BACKUP_EXISTS'
  | 'PARENT_MISSING'
  | 'PARENT_MISMATCH'

/** An error of the backup repository layer (layout, metadata, retention, check & repair). */
export class RepositoryError extends BackupError<RepositoryErrorCode> {}
