import { createHash } from 'node:crypto'
import { WorkerHash } from '../shared/worker-hash.ts'
import { RepositoryError } from './repository-error.ts'

// XO's `.checksum` files: crypt(3)-like `$<id>$$<hex>`, id 1 = MD5 (what XO writes), 5 = SHA-256,
// 6 = SHA-512, computed over the bytes as stored (xen-orchestra-backups.md §2.4).
const ALGORITHMS: Readonly<Record<string, string>> = { '1': 'md5', '5': 'sha256', '6': 'sha512' }
const FORMAT = /^\$(1|5|6)\$\$([0-9a-f]+)$/

/** A running checksum of bytes as they are written, in XO's `.checksum` text form at the end. */
export interface ChecksumStage {
  /** Passes chunks through while hashing them. */
  readonly stage: (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array>
  /** `$1$$<md5>` of everything that went through (call after the stage is drained). */
  text(): string
}

/**
 * A stage computing XO's MD5 checksum text (`$1$$<hex>`) of the bytes it passes, on a worker thread
 * (WorkerHash) so that hashing a full backup runs beside its transfer; the digest is taken when the
 * source ends, before the stage does, and the thread always ends with the stage.
 */
export function md5ChecksumStage(): ChecksumStage {
  let digest: string | undefined
  return {
    async *stage(source) {
      const hash = new WorkerHash('md5')
      try {
        for await (const chunk of source) {
          await hash.update(chunk)
          yield chunk
        }
        digest = await hash.digest()
      } finally {
        await hash.close()
      }
    },
    text() {
      if (digest === undefined) throw new Error('md5ChecksumStage: text() before the stage was drained')
      return `$1$$${digest}`
    },
  }
}

/** The hash algorithm and expected hex digest of a `.checksum` file's text (CHECKSUM_MISMATCH on an unknown form). */
export function parseChecksumText(text: string, path: string): { algorithm: string; hex: string } {
  const match = FORMAT.exec(text.trim())
  const algorithm = match === null ? undefined : ALGORITHMS[match[1] ?? '']
  if (match === null || algorithm === undefined) {
    throw new RepositoryError(
      'CHECKSUM_MISMATCH',
      `${path}: expected "$1$$<md5 hex>" (or $5$/$6$), got ${JSON.stringify(text.slice(0, 80))}`,
    )
  }
  return { algorithm, hex: match[2] ?? '' }
}

/**
 * Passes `source` through and, at its end, compares its hash with `expectedText` (a `.checksum`
 * file's content): a mismatch throws CHECKSUM_MISMATCH naming `path` and both digests, so a
 * consumer never finishes reading a corrupted file without being told.
 */
export async function* verifyChecksum(
  source: AsyncIterable<Uint8Array>,
  expectedText: string,
  path: string,
): AsyncGenerator<Uint8Array> {
  const { algorithm, hex } = parseChecksumText(expectedText, `${path}.checksum`)
  const hash = createHash(algorithm)
  for await (const chunk of source) {
    hash.update(chunk)
    yield chunk
  }
  const got = hash.digest('hex')
  if (got !== hex)
    throw new RepositoryError('CHECKSUM_MISMATCH', `${path}: expected ${algorithm} ${hex}, got ${got}`)
}
