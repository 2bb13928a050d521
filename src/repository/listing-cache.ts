import { gunzipSync, gzipSync } from 'node:zlib'
import type { Remote, RemoteEntry } from '../remotes/remote.ts'
import { resolveReference } from '../shared/confine.ts'
import { CACHE_FILE, parseBackupFileName } from './layout.ts'
import type { BackupMetadata } from './metadata.ts'
import { validateBackupMetadata } from './metadata.ts'
import { readSmallFile } from './read-file.ts'

/** One cached metadata file, with the size and mtime it had when it was read. */
export interface CacheEntry {
  readonly sizeBytes: number
  readonly modifiedMs: number | undefined
  readonly metadata: BackupMetadata
}

/**
 * The most `cache.json.gz` may expand to. An entry is its metadata (5–60 KiB, see
 * MAX_METADATA_BYTES) plus ~200 bytes of key, `_filename`, `id` and `_stat`: 32 KiB on average is
 * generous, and 4,096 entries are more backups than any retention keeps for one VM (daily for ten
 * years is 3,650): 128 MiB. A bomb (4 MiB of gzip can expand to 8 GiB) stops here.
 */
export const MAX_CACHE_JSON_BYTES = 128 * 1024 * 1024

/** JSON compresses 5–20 times; a compressed cache above this cannot be a legit one. */
export const MAX_CACHE_FILE_BYTES = 32 * 1024 * 1024

/** What reading the cache gave: its entries, or why it was ignored (it is then rebuilt). */
export interface CacheRead {
  readonly entries: ReadonlyMap<string, CacheEntry>
  readonly ignored?: string
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** The metadata path a cache key names, confined to the VM folder `dir`; throws when it is not one. */
function entryPath(key: string, dir: string): string {
  // XO writes keys as `/`-rooted remote paths; the key must name a metadata file of this VM folder.
  const path = resolveReference('', key.startsWith('/') ? key.slice(1) : key, dir)
  const name = path.slice(dir.length + 1)
  if (name.includes('/') || parseBackupFileName(name)?.kind !== 'metadata')
    throw new Error(`entry ${JSON.stringify(key.slice(0, 200))} is not a metadata file of ${dir}`)
  return path
}

function parseCache(bytes: Buffer, dir: string): Map<string, CacheEntry> {
  let text: string
  try {
    text = gunzipSync(bytes, { maxOutputLength: MAX_CACHE_JSON_BYTES }).toString('utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw new Error(`expands beyond ${MAX_CACHE_JSON_BYTES} bytes`, { cause: error })
    throw new Error(`not gzip (${(error as Error).message})`, { cause: error })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new Error(`not valid JSON (${(error as Error).message})`, { cause: error })
  }
  if (!isObject(parsed)) throw new Error('expected a JSON object')
  const out = new Map<string, CacheEntry>()
  for (const [key, value] of Object.entries(parsed)) {
    const path = entryPath(key, dir)
    if (!isObject(value)) throw new Error(`entry ${path}: expected an object`)
    const { _stat: stat, _filename: _f, id: _id, ...metadata } = value
    // An XO-written entry has no stat: the file is read again once, then cached with one.
    if (!isObject(stat) || typeof stat.sizeBytes !== 'number') continue
    out.set(path, {
      sizeBytes: stat.sizeBytes,
      modifiedMs: typeof stat.modifiedMs === 'number' ? stat.modifiedMs : undefined,
      metadata: validateBackupMetadata(metadata, path),
    })
  }
  return out
}

/**
 * Reads the cache of the VM folder `dir` (`entry` is its listing entry, undefined when there is
 * none). Never throws for its content: one that is too big, expands too far, is not gzip'd JSON
 * or holds an entry outside the folder or invalid metadata is ignored whole, with the reason.
 */
export async function readListingCache(
  remote: Remote,
  dir: string,
  entry: RemoteEntry | undefined,
): Promise<CacheRead> {
  const empty = new Map<string, CacheEntry>()
  if (entry === undefined) return { entries: empty }
  try {
    return { entries: parseCache(await readSmallFile(remote, entry.path, MAX_CACHE_FILE_BYTES), dir) }
  } catch (error) {
    // A cache is only an optimisation over the metadata files, which stay the truth.
    return { entries: empty, ignored: (error as Error).message }
  }
}

/**
 * Writes the cache of `dir` in XO's shape (`/`-rooted keys, metadata + `_filename` + `id`) plus a
 * `_stat` to detect staleness. A cache that would exceed MAX_CACHE_JSON_BYTES is not written (the
 * next read would ignore it) and the old one is removed; returns false then.
 */
export async function writeListingCache(
  remote: Remote,
  dir: string,
  entries: ReadonlyMap<string, CacheEntry>,
): Promise<boolean> {
  // Serialised entry by entry so that an oversized cache is noticed before one huge string exists.
  const parts: string[] = []
  let bytes = 2
  for (const [path, entry] of entries) {
    const part = `${JSON.stringify(`/${path}`)}:${JSON.stringify({
      ...entry.metadata,
      _filename: `/${path}`,
      id: `/${path}`,
      _stat: { sizeBytes: entry.sizeBytes, modifiedMs: entry.modifiedMs ?? null },
    })}`
    bytes += Buffer.byteLength(part) + 1
    if (bytes > MAX_CACHE_JSON_BYTES) {
      await remote.delete(`${dir}/${CACHE_FILE}`)
      return false
    }
    parts.push(part)
  }
  await remote.write(`${dir}/${CACHE_FILE}`, gzipSync(`{${parts.join(',')}}`))
  return true
}
