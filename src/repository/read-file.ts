import type { Remote } from '../remotes/remote.ts'
import type { BackupMetadata } from './metadata.ts'
import { MAX_METADATA_BYTES, parseBackupMetadata } from './metadata.ts'
import { RepositoryError } from './repository-error.ts'

/** Metadata and caches are small; anything bigger is refused before it is read into memory. */
export const MAX_SMALL_FILE_BYTES = 64 * 1024 * 1024

/**
 * Reads a whole small file (metadata, checksum, cache) from a remote, refusing files above
 * `maxBytes` with METADATA_INVALID naming the file (hostile or absurd sizes never reach memory).
 */
export async function readSmallFile(
  remote: Remote,
  path: string,
  maxBytes = MAX_SMALL_FILE_BYTES,
): Promise<Buffer> {
  const { sizeBytes } = await remote.stat(path)
  if (sizeBytes > maxBytes) {
    throw new RepositoryError(
      'METADATA_INVALID',
      `${path}: expected at most ${maxBytes} bytes, got ${sizeBytes}`,
    )
  }
  const parts: Buffer[] = []
  let total = 0
  for await (const chunk of await remote.read(path)) {
    const buffer = chunk as Buffer
    total += buffer.length
    if (total > maxBytes)
      throw new RepositoryError('METADATA_INVALID', `${path}: grew beyond ${maxBytes} bytes while read`)
    parts.push(buffer)
  }
  return Buffer.concat(parts)
}

/**
 * Reads and validates the metadata file at `path`: at most MAX_METADATA_BYTES (checked from its
 * size before reading), then parseBackupMetadata's checks; every failure is METADATA_INVALID (or
 * METADATA_UNSUPPORTED_VERSION) naming the file.
 */
export async function readMetadataFile(remote: Remote, path: string): Promise<BackupMetadata> {
  return parseBackupMetadata((await readSmallFile(remote, path, MAX_METADATA_BYTES)).toString('utf8'), path)
}
