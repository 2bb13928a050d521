import { realpath } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { isWithin } from '../../shared/confine.ts'
import { errorCode } from '../../shared/errors.ts'
import { RemoteError } from '../remote-error.ts'
import { checkRemotePath } from '../remote-path.ts'

/**
 * Maps a remote path to an absolute path under `realRoot` (the root's realpath) and proves it
 * stays there: the deepest existing ancestor (the path itself when it exists) is resolved through
 * symlinks and must be the root or below it, else INVALID_PATH. Not proof against a symlink swapped
 * in by another process between the check and the use (docs/remotes.md §Local).
 */
export async function confinePath(realRoot: string, path: string, allowRoot = false): Promise<string> {
  checkRemotePath(path, allowRoot)
  const absolute = path === '' ? realRoot : join(realRoot, ...path.split('/'))
  let probe = absolute
  for (;;) {
    try {
      const real = await realpath(probe)
      if (!isWithin(realRoot, real)) {
        throw new RemoteError(
          'INVALID_PATH',
          `remote path ${JSON.stringify(path)} escapes the remote root through a symlink`,
          {
            details: { path, reason: 'symlink escape' },
          },
        )
      }
      return absolute
    } catch (error) {
      const code = errorCode(error)
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || probe === realRoot) throw error
      probe = dirname(probe)
    }
  }
}
