import type { Stats } from 'node:fs'
import { lstat, realpath } from 'node:fs/promises'
import { isAbsolute, join, posix, relative, resolve, sep } from 'node:path'
import { BackupError } from './errors.ts'

/** Why a path was refused by the confinement gate. */
export type PathErrorCode =
  'PATH_INVALID' | 'PATH_ESCAPE' | 'PATH_SYMLINK' | 'PATH_NOT_REGULAR' | 'PATH_MISSING'

/** A path derived from stored data (a state file, a locator, metadata, a cache) that was refused. */
export class PathError extends BackupError<PathErrorCode> {}

const MAX_PATH_BYTES = 4096

function refuse(code: PathErrorCode, path: string, reason: string, root?: string): never {
  throw new PathError(code, `refused path ${JSON.stringify(path)}: ${reason}`, {
    details: root === undefined ? { path, reason } : { path, root, reason },
  })
}

/**
 * Checks the syntax of a relative, `/`-separated path read from stored data and returns it: not
 * empty (unless `allowEmpty`), not absolute, no empty, `.` or `..` segment, no NUL or backslash,
 * at most 4096 bytes. Throws PathError PATH_INVALID naming the reason.
 */
export function checkRelativePath(path: string, allowEmpty = false): string {
  if (typeof path !== 'string') return refuse('PATH_INVALID', String(path), 'not a string')
  if (path === '') return allowEmpty ? path : refuse('PATH_INVALID', path, 'empty')
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) refuse('PATH_INVALID', path.slice(0, 64), 'too long')
  if (path.includes('\0')) refuse('PATH_INVALID', path, 'contains NUL')
  // A backslash is a separator on SMB shares: refuse it rather than let it mean two things.
  if (path.includes('\\')) refuse('PATH_INVALID', path, 'contains a backslash')
  if (path.startsWith('/')) refuse('PATH_INVALID', path, 'absolute')
  for (const segment of path.split('/')) {
    if (segment === '') refuse('PATH_INVALID', path, 'empty segment')
    if (segment === '.' || segment === '..')
      refuse('PATH_INVALID', path, `segment ${JSON.stringify(segment)}`)
  }
  return path
}

/**
 * True when the absolute path `candidate` is `root` itself or below it, compared by whole segments
 * (so `/repo-evil` is not inside `/repo`). Purely lexical: symlinks are the caller's concern.
 */
export function isWithin(root: string, candidate: string): boolean {
  const rel = relative(resolve(root), resolve(candidate))
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`))
}

/**
 * Resolves `reference` (a relative `/`-path found in a file, e.g. a VHD parent locator or a merge
 * state's chain entry) against the folder `fromDir` (relative to a root, '' for the root itself)
 * and returns the normalised relative path, or throws PATH_INVALID (absolute, NUL, backslash) or
 * PATH_ESCAPE (it leaves the root, or the `scope` folder when one is given).
 */
export function resolveReference(fromDir: string, reference: string, scope = ''): string {
  if (reference === '') refuse('PATH_INVALID', reference, 'empty')
  if (reference.includes('\0')) refuse('PATH_INVALID', reference, 'contains NUL')
  if (reference.includes('\\')) refuse('PATH_INVALID', reference, 'contains a backslash')
  if (reference.startsWith('/')) refuse('PATH_INVALID', reference, 'absolute')
  // Normalised without a leading '/': a reference that climbs above the root keeps its '..'.
  const joined = posix.normalize(posix.join(fromDir === '' ? '.' : fromDir, reference))
  const inScope =
    joined !== '.' &&
    joined !== '..' &&
    !joined.startsWith('../') &&
    (scope === '' || joined === scope || joined.startsWith(`${scope}/`))
  if (!inScope)
    refuse('PATH_ESCAPE', reference, `resolves outside ${JSON.stringify(scope === '' ? '.' : scope)}`)
  return checkRelativePath(joined)
}

/** Options of confinePath. */
export interface ConfineOptions {
  /**
   * 'refuse' (the default): no component below the root may be a symlink — what a resumed merge or
   * a repair needs before it renames or deletes. 'within-root': symlinks are followed but the real
   * path must stay under the root's real path.
   */
  readonly symlinks?: 'refuse' | 'within-root'
  /** What the path must be when it exists: a regular file (the default), a directory, or either. */
  readonly type?: 'file' | 'directory' | 'any'
  /** Accept a path that does not exist yet (its existing ancestors are still checked). */
  readonly allowMissing?: boolean
  /** Accept '' (the root itself). */
  readonly allowRoot?: boolean
}

/**
 * The one gate for paths derived from stored data: maps the relative `path` under `root` to an
 * absolute path and proves it stays there — syntax (checkRelativePath), every existing component
 * checked with lstat (symlinks per `options.symlinks`), and the final entry of the expected type
 * (FIFOs, sockets and devices are never a regular file). Throws PathError naming the path and the
 * reason. Not proof against a swap by another process between this check and the use.
 */
export async function confinePath(root: string, path: string, options: ConfineOptions = {}): Promise<string> {
  checkRelativePath(path, options.allowRoot === true)
  const realRoot = await realpath(root)
  const segments = path === '' ? [] : path.split('/')
  let current = realRoot
  for (let i = 0; i < segments.length; i++) {
    current = join(current, segments[i] as string)
    let info
    try {
      info = await lstat(current)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT' && options.allowMissing === true) return join(realRoot, ...segments)
      if (code === 'ENOENT') return refuse('PATH_MISSING', path, 'does not exist', root)
      if (code === 'ENOTDIR') return refuse('PATH_INVALID', path, 'a component is not a directory', root)
      throw error
    }
    if (info.isSymbolicLink()) {
      if (options.symlinks !== 'within-root') refuse('PATH_SYMLINK', path, 'reached through a symlink', root)
      const real = await realpath(current).catch(() => undefined)
      if (real === undefined) {
        if (options.allowMissing === true) return join(realRoot, ...segments)
        return refuse('PATH_MISSING', path, 'dangling symlink', root)
      }
      if (!isWithin(realRoot, real)) refuse('PATH_ESCAPE', path, 'a symlink leads outside the root', root)
      info = await lstat(real)
    }
    const last = i === segments.length - 1
    if (!last && !info.isDirectory()) refuse('PATH_INVALID', path, 'a component is not a directory', root)
    if (last) {
      const type = options.type ?? 'file'
      if (type === 'file' && !info.isFile())
        refuse('PATH_NOT_REGULAR', path, `not a regular file (${kind(info)})`, root)
      if (type === 'directory' && !info.isDirectory())
        refuse('PATH_NOT_REGULAR', path, `not a directory (${kind(info)})`, root)
    }
  }
  return segments.length === 0 ? realRoot : join(realRoot, ...segments)
}

function kind(info: Stats): string {
  if (info.isDirectory()) return 'a directory'
  if (info.isFIFO()) return 'a FIFO'
  if (info.isSocket()) return 'a socket'
  if (info.isBlockDevice() || info.isCharacterDevice()) return 'a device'
  if (info.isFile()) return 'a regular file'
  return 'another kind of entry'
}
