import type { Clock } from '../shared/clock.ts'
import type { JsonObject } from '../shared/json.ts'
import { openLocalRemote } from './local/local-remote.ts'
import { openMountedRemote } from './mount/mounted-remote.ts'
import type { MountOptions } from './mount/mounted-remote.ts'
import { isRemoteError, RemoteError } from './remote-error.ts'
import type { Remote } from './remote.ts'
import { parseRemoteArgument } from './url.ts'
import type { RemoteUrl } from './url.ts'

/** An opened remote and how to let it go (close S3 sockets, unmount). */
export interface OpenedRemote {
  readonly remote: Remote
  close(): Promise<void>
}

/** Options of openRemote. */
export interface OpenRemoteOptions extends MountOptions {
  readonly clock?: Clock
  readonly onWarning?: (message: string, details: JsonObject) => void
}

/** `path` quoted for a POSIX shell when it needs to be, so a hint can be pasted as is. */
export function shellQuote(path: string): string {
  return /^[\w@%+=:,./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`
}

// openLocalRemote says NOT_FOUND with Node's message; a person needs to know which of "missing"
// and "not a folder" it is, and what to do about it.
async function openLocal(path: string, clock: { clock?: Clock }): Promise<Remote> {
  try {
    return await openLocalRemote(path, clock)
  } catch (error) {
    if (!isRemoteError(error, 'NOT_FOUND')) throw error
    const missing = error.details?.errno === 'ENOENT'
    throw new RemoteError(
      'NOT_FOUND',
      missing ? 'the remote folder does not exist' : 'the remote path is not a folder',
      {
        details: {
          path,
          hint: missing
            ? `create it first (mkdir -p ${shellQuote(path)}), or check the path`
            : 'give the folder that holds (or will hold) the backups',
        },
      },
    )
  }
}

/**
 * Opens a remote from its URL (XO grammar, url.ts) or, for a string, as a person types it
 * (parseRemoteArgument: a bare absolute path is a local folder, `file://relative` is refused):
 * file:// as a local directory, s3:// and s3+http:// through the SDK, nfs:// and smb:// by
 * mounting them (root only). A stored XO URL is parsed with parseRemoteUrl and passed parsed.
 * The composition root wraps the result (retry, throttle, limits) as its configuration says.
 */
export async function openRemote(
  url: string | RemoteUrl,
  options: OpenRemoteOptions = {},
): Promise<OpenedRemote> {
  const parsed = typeof url === 'string' ? parseRemoteArgument(url) : url
  const clock = options.clock === undefined ? {} : { clock: options.clock }
  switch (parsed.type) {
    case 'file':
      return { remote: await openLocal(parsed.path, clock), close: () => Promise.resolve() }
    case 's3': {
      // The AWS SDK costs most of the CLI's start-up: it is loaded only for an S3 remote.
      const { openS3Remote } = await import('./s3/open-s3-remote.ts')
      return openS3Remote(parsed, {
        ...clock,
        ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
      })
    }
    case 'nfs':
    case 'smb':
      return openMountedRemote(parsed, options)
  }
}
