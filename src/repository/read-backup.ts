import type { Remote } from '../remotes/remote.ts'
import { verifyChecksum } from './checksum-file.ts'
import type { BackupListing } from './listing.ts'
import { readSmallFile } from './read-file.ts'
import { RepositoryError } from './repository-error.ts'

/**
 * The XVA bytes of a full backup, verified against its `.xva.checksum` while they stream (the
 * error comes at the end, before the consumer can treat the data as complete). A backup without a
 * checksum file streams unverified only with `allowUnverified`.
 */
export async function readFullBackupXva(
  remote: Remote,
  backup: BackupListing,
  options: { readonly allowUnverified?: boolean; readonly signal?: AbortSignal } = {},
): Promise<AsyncIterable<Uint8Array>> {
  const [xva] = backup.files
  if (backup.metadata.mode !== 'full' || xva === undefined) {
    throw new RepositoryError('BACKUP_NOT_FOUND', `${backup.id}: not a full backup`)
  }
  const stream = (await remote.read(
    xva,
    options.signal === undefined ? {} : { signal: options.signal },
  )) as AsyncIterable<Uint8Array>
  if (backup.checksumFile === undefined) {
    if (options.allowUnverified === true) return stream
    throw new RepositoryError('CHECKSUM_MISMATCH', `${xva}: no checksum file to verify it against`)
  }
  const expected = (await readSmallFile(remote, backup.checksumFile, 4096)).toString('utf8')
  return verifyChecksum(stream, expected, xva)
}
