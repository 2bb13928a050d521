import type { Clock } from '../shared/clock.ts'
import type { JsonObject } from '../shared/json.ts'
import { openLocalRemote } from './local/local-remote.ts'
import { openMountedRemote } from './mount/mounted-remote.ts'
import type { MountOptions } from './mount/mounted-remote.ts'
import type { Remote } from './remote.ts'
import { openS3Remote } from './s3/open-s3-remote.ts'
import { parseRemoteUrl } from './url.ts'
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

/**
 * Opens a remote from its URL (XO grammar, url.ts): file:// as a local directory, s3:// and
 * s3+http:// through the SDK, nfs:// and smb:// by mounting them (root only). The composition
 * root wraps the result (retry, throttle, limits) as its configuration says.
 */
export async function openRemote(
  url: string | RemoteUrl,
  options: OpenRemoteOptions = {},
): Promise<OpenedRemote> {
  const parsed = typeof url === 'string' ? parseRemoteUrl(url) : url
  const clock = options.clock === undefined ? {} : { clock: options.clock }
  switch (parsed.type) {
    case 'file':
      return { remote: await openLocalRemote(parsed.path, clock), close: () => Promise.resolve() }
    case 's3':
      return openS3Remote(parsed, {
        ...clock,
        ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
      })
    case 'nfs':
    case 'smb':
      return openMountedRemote(parsed, options)
  }
}
