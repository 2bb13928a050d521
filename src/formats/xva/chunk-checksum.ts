import { createHash } from 'node:crypto'
import { xxh64 } from '@node-rs/xxhash'

/** The inline checksum kinds of XVA chunks: `.xxhash` (XXH64, seed 0) or legacy `.checksum` (SHA-1). */
export type ChunkChecksum = 'xxhash' | 'sha1'

/** The entry-name suffix of each checksum kind. */
export const CHECKSUM_SUFFIX: Readonly<Record<ChunkChecksum, string>> = {
  xxhash: '.xxhash',
  sha1: '.checksum',
}

/**
 * The checksum text XAPI writes for a chunk: XXH64 as 16 uppercase hex digits (`%016LX`), SHA-1 as
 * 40 lowercase hex digits (xapi.md §4).
 */
export function chunkChecksum(kind: ChunkChecksum, data: Uint8Array): string {
  if (kind === 'sha1') return createHash('sha1').update(data).digest('hex')
  return xxh64(data).toString(16).toUpperCase().padStart(16, '0')
}
