import { RemoteError } from './remote-error.ts'

/**
 * Validates a path inside a remote and returns it: relative, `/`-separated, no empty, `.` or `..`
 * segment, no NUL or backslash, at most 1024 bytes. `allowRoot` accepts '' (the root, for `list`).
 * The single gate every implementation calls first, so a hostile name can never leave the root.
 */
export function checkRemotePath(path: string, allowRoot = false): string {
  const fail = (reason: string): never => {
    throw new RemoteError('INVALID_PATH', `invalid remote path ${JSON.stringify(path)}: ${reason}`, {
      details: { path, reason },
    })
  }
  if (typeof path !== 'string') return fail('not a string')
  if (path === '') return allowRoot ? path : fail('empty')
  if (Buffer.byteLength(path) > 1024) fail('longer than 1024 bytes')
  if (path.includes('\0')) fail('contains NUL')
  // A backslash is a separator on SMB shares: refuse it rather than let it mean two things.
  if (path.includes('\\')) fail('contains a backslash')
  if (path.startsWith('/')) fail('absolute')
  for (const segment of path.split('/')) {
    if (segment === '') fail('empty segment')
    if (segment === '.' || segment === '..') fail(`segment ${JSON.stringify(segment)}`)
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
