import { BackupError } from '../shared/errors.ts'

/** Stable codes of repository errors. */
export type RepositoryErrorCode = 'RETENTION_INVALID'

/** An error of the backup repository layer (layout, metadata, retention, check & repair). */
export class RepositoryError extends BackupError<RepositoryErrorCode> {}
