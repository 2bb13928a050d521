import { BackupError } from '../../shared/errors.ts'

/** Stable codes of the job server's store errors. */
export type StoreErrorCode =
  /** The data directory (or the database path in it) is a symlink, a file, or not usable. */
  | 'STORE_DATA_DIR_INVALID'
  /** The database was written by a newer xapi-backup (its user_version is above ours). */
  | 'STORE_TOO_NEW'
  /** The database file is not SQLite, is truncated, or fails `PRAGMA quick_check`. */
  | 'STORE_CORRUPT'
  /** The database could not be opened for another reason (permissions, locks, I/O). */
  | 'STORE_OPEN_FAILED'
  /** The secrets file is readable or writable by group or others. */
  | 'STORE_SECRETS_MODE'
  /** The secrets file is a symlink, not a regular file, or not the JSON we write. */
  | 'STORE_SECRETS_INVALID'
  /** The secrets file could not be written (disk full, permissions); it is left as it was. */
  | 'STORE_SECRETS_WRITE_FAILED'
  /** A row read back does not have the shape we write (hand-edited or damaged database). */
  | 'STORE_ROW_INVALID'
  /** The record a write refers to does not exist (a run, or a schedule's job). */
  | 'STORE_NOT_FOUND'
  /** A record with that id already exists where a new one is inserted (insertRun). */
  | 'STORE_CONFLICT'

/** An error of the job server's store (SQLite database and secrets file). */
export class StoreError extends BackupError<StoreErrorCode> {}
