import { PathError, checkRelativePath } from '../shared/confine.ts'
import { RemoteError } from './remote-error.ts'

/**
 * Validates a path inside a remote and returns it: relative, `/`-separated, no empty, `.` or `..`
 * segment, no NUL or backslash, at most 1024 bytes. `allowRoot` accepts '' (the root, for `list`).
 * The single gate every implementation calls first, so a hostile name can never leave the root.
 */
export function checkRemotePath(path: string, allowRoot = false): string {
  try {
    checkRelativePath(path, allowRoot)
  } catch (error) {
    if (!(error instanceof PathError)) throw error
    const detail = error.details?.reason
    const reason = typeof detail === 'string' ? detail : error.message
    throw new RemoteError('INVALID_PATH', `invalid remote path ${JSON.stringify(path)}: ${reason}`, {
      details: { path: typeof path === 'string' ? path : String(path), reason },
    })
  }
  if (Buffer.byteLength(path) > 1024) {
    throw new RemoteError('INVALID_PATH', `invalid remote path: longer than 1024 bytes`, {
      details: { path: path.slice(0, 64), reason: 'longer than 1024 bytes' },
    })
  }
  return path
}

/** Joins validated segments with `/`, skipping empty ones ('' is the root). */
export function joinRemotePath(...parts: readonly string[]): string {
  return parts.filter((p) => p !== '').join('/')
}

/** The directory of a path ('' for a top-level name). */
export function remoteDirname(path: string): string {
  const slash = path.lastIndexOf('/')
  return slash === -1 ? '' : path.slice(0, slash)
}

/** The last segment of a path. */
export function remoteBasename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}
