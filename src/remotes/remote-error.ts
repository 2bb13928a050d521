import { BackupError, errorCode } from '../shared/errors.ts'
import type { BackupErrorOptions } from '../shared/errors.ts'

/** Stable codes of RemoteError (docs/remotes.md §Errors). */
export type RemoteErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'READ_ONLY'
  | 'ACCESS_DENIED'
  | 'UNAVAILABLE'
  | 'INVALID_PATH'
  | 'INVALID_RANGE'
  | 'INVALID_URL'
  | 'SIZE_MISMATCH'
  | 'LOCKED'
  | 'LOCK_LOST'
  | 'NO_SPACE'
  | 'UNSUPPORTED'
  | 'MOUNT_FAILED'
  | 'IO_ERROR'

/** An error of a remote; `details.path` names the file when there is one. */
export class RemoteError extends BackupError<RemoteErrorCode> {
  constructor(code: RemoteErrorCode, message: string, options: BackupErrorOptions = {}) {
    super(code, message, options)
  }
}

/** True when `error` is a RemoteError with `code`. */
export function isRemoteError(error: unknown, code?: RemoteErrorCode): error is RemoteError {
  return error instanceof RemoteError && (code === undefined || error.code === code)
}

/** True when the file was missing. */
export function isNotFound(error: unknown): boolean {
  return isRemoteError(error, 'NOT_FOUND')
}

/**
 * True when retrying the same operation may succeed: the backend was unavailable (5xx, SlowDown,
 * connection reset, NFS timeout). Nothing else is retried: a NOT_FOUND or ACCESS_DENIED stays so.
 */
export function isRetryableRemoteError(error: unknown): boolean {
  return isRemoteError(error, 'UNAVAILABLE')
}

const ERRNO: Readonly<Record<string, RemoteErrorCode>> = {
  ENOENT: 'NOT_FOUND',
  ENOTDIR: 'NOT_FOUND',
  EEXIST: 'ALREADY_EXISTS',
  ENOTEMPTY: 'ALREADY_EXISTS',
  EACCES: 'ACCESS_DENIED',
  EPERM: 'ACCESS_DENIED',
  EROFS: 'READ_ONLY',
  ENOSPC: 'NO_SPACE',
  EDQUOT: 'NO_SPACE',
  // Network filesystems and overloaded disks: the same call may work later.
  EAGAIN: 'UNAVAILABLE',
  EBUSY: 'UNAVAILABLE',
  ESTALE: 'UNAVAILABLE',
  ETIMEDOUT: 'UNAVAILABLE',
  ECONNRESET: 'UNAVAILABLE',
  ECONNREFUSED: 'UNAVAILABLE',
  EHOSTUNREACH: 'UNAVAILABLE',
  EPIPE: 'UNAVAILABLE',
  EIO: 'IO_ERROR',
}

/**
 * Wraps a filesystem or network error (Node `errno` codes) as a RemoteError naming the operation
 * and the path; RemoteErrors and aborts pass through unchanged.
 */
export function toRemoteError(error: unknown, operation: string, path: string): unknown {
  if (error instanceof RemoteError) return error
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return error
  const code = errorCode(error)
  const mapped = (code === undefined ? undefined : ERRNO[code]) ?? 'IO_ERROR'
  const reason = error instanceof Error ? error.message : String(error)
  return new RemoteError(mapped, `${operation} ${JSON.stringify(path)}: ${reason}`, {
    details: { operation, path, ...(code === undefined ? {} : { errno: code }) },
    cause: error,
  })
}
