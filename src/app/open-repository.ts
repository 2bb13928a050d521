import type { MergeStore } from '../formats/vhd/merge-store.ts'
import { openRemote } from '../remotes/open-remote.ts'
import type { Remote } from '../remotes/remote.ts'
import { parseRemoteArgument } from '../remotes/url.ts'
import type { Clock } from '../shared/clock.ts'
import type { JsonObject } from '../shared/json.ts'
import { localRemoteMergeStore } from './local-merge-store.ts'

/** A backup repository opened from a remote URL, with in-place file access where the remote allows it. */
export interface OpenedRepository {
  readonly remote: Remote
  /** Present for local directories: VHD merges write there in place. Absent for object storage. */
  readonly mergeStore?: MergeStore
  close(): Promise<void>
}

/**
 * Opens the remote at `url` (file://, s3://, s3+http://, nfs://, smb://, or a bare absolute path:
 * parseRemoteArgument) for the repository layer; the remote's own warnings (an S3 upload that
 * could not be aborted…) go to `onWarning`.
 * Merges need in-place writes: a `file://` remote gets a MergeStore on the same directory; object
 * storage and mounts get none yet, so expired deltas wait (and commands say so) instead of being
 * merged by copying whole disks.
 */
export async function openRepository(
  url: string,
  options: { clock?: Clock; onWarning?: (message: string, details: JsonObject) => void } = {},
): Promise<OpenedRepository> {
  const parsed = parseRemoteArgument(url)
  const opened = await openRemote(parsed, {
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
  })
  return {
    remote: opened.remote,
    ...(parsed.type === 'file' ? { mergeStore: localRemoteMergeStore(parsed.path) } : {}),
    close: () => opened.close(),
  }
}
