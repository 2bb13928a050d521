import type { Remote, RemoteEntry } from '../remotes/remote.ts'
import { mapWithConcurrency } from '../shared/async.ts'
import { isUuid } from '../shared/ids.ts'
import type { Task } from '../tasks/task.ts'
import { CACHE_FILE, parseBackupFileName, resolveInVmDir, VM_BACKUPS_DIR, vmDir } from './layout.ts'
import type { CacheEntry } from './listing-cache.ts'
import { readListingCache, writeListingCache } from './listing-cache.ts'
import type { BackupMetadata } from './metadata.ts'
import { readMetadataFile } from './read-file.ts'
import { RepositoryError } from './repository-error.ts'

/** A listed backup: its metadata, the files it names, and whether they are all present. */
export interface BackupListing {
  /** The metadata file's path: the backup's id. */
  readonly id: string
  readonly vmUuid: string
  readonly timestampMs: number
  readonly metadata: BackupMetadata
  /** Every data file the metadata names (the XVA, or one VHD per disk), as remote paths. */
  readonly files: readonly string[]
  /** The `.xva.checksum` of a full backup when present (older or encrypted remotes have none). */
  readonly checksumFile?: string
  /** Files named by the metadata that are missing or empty: a listed backup is restorable only when none. */
  readonly missingFiles: readonly string[]
}

/** The backups of a VM, oldest first, and the metadata files that could not be read (with why). */
export interface VmBackups {
  readonly backups: readonly BackupListing[]
  readonly invalid: readonly { readonly path: string; readonly message: string }[]
  /** How many metadata files were read (0 when the cache answered for all). */
  readonly metadataReads: number
  /** Why `cache.json.gz` was ignored (too big, a bomb, not JSON, a bad entry), when it was; it is rebuilt. */
  readonly cacheIgnored?: string
}

/** Metadata files read at once (each at most MAX_METADATA_BYTES). */
const METADATA_READ_CONCURRENCY = 8

/** One metadata file of a listing: from the cache, read, or unreadable (with why). */
interface MetadataRead {
  readonly file: RemoteEntry
  readonly cached?: CacheEntry
  readonly metadata?: BackupMetadata
  readonly message?: string
}

/** The data files a metadata names, resolved inside the VM folder (PathError if one escapes it). */
export function filesOf(metadata: BackupMetadata, vmDirPath: string): string[] {
  const named =
    metadata.mode === 'full'
      ? [{ field: 'xva', path: metadata.xva, suffix: '.xva' }]
      : Object.entries(metadata.vhds).map(([ref, path]) => ({ field: `vhds.${ref}`, path, suffix: '.vhd' }))
  return named.map(({ field, path, suffix }) => {
    const resolved = resolveInVmDir(vmDirPath, path, field)
    // Deleting a full backup deletes what `xva` names: it must never name a metadata file or a cache.
    if (!resolved.endsWith(suffix))
      throw new RepositoryError(
        'METADATA_INVALID',
        `${field}: expected a ${suffix} file, got ${JSON.stringify(path.slice(0, 200))}`,
      )
    return resolved
  })
}

/**
 * Lists a VM's backups with one recursive listing of its folder: metadata files unchanged since
 * the cache was written (same size and mtime) come from `cache.json.gz`, the others are read and
 * the cache is rewritten. Each backup says which of its files are missing. Never throws for one
 * bad metadata file (too big, too deep, invalid, naming a file outside the VM folder): it is
 * reported in `invalid`. A bad cache is ignored and rebuilt, with a warning on `task`.
 */
export async function listVmBackups(
  remote: Remote,
  vmUuid: string,
  options: {
    useCache?: boolean
    /** The VM folder's recursive listing, when the caller has just made it (not listed again). */
    listing?: ReadonlyMap<string, RemoteEntry>
  } = {},
  task?: Task,
): Promise<VmBackups> {
  const dir = vmDir(vmUuid)
  let files = options.listing
  if (files === undefined) {
    const listed = new Map<string, RemoteEntry>()
    for await (const entry of remote.list(dir, { recursive: true })) listed.set(entry.path, entry)
    files = listed
  }
  const metadataFiles = [...files.values()].filter(
    (e) =>
      e.path.lastIndexOf('/') === dir.length &&
      parseBackupFileName(e.path.slice(dir.length + 1))?.kind === 'metadata',
  )
  const useCache = options.useCache !== false
  const { entries: cache, ignored } = useCache
    ? await readListingCache(remote, dir, files.get(`${dir}/${CACHE_FILE}`))
    : { entries: new Map<string, CacheEntry>(), ignored: undefined }
  if (ignored !== undefined)
    task?.warning(`${dir}/${CACHE_FILE} ignored and rebuilt: ${ignored}`, { path: `${dir}/${CACHE_FILE}` })
  const fresh = new Map<string, CacheEntry>()
  const invalid: { path: string; message: string }[] = []
  // Read a few at a time (each read is a round trip on S3), kept in listing order.
  const read = await mapWithConcurrency(
    metadataFiles,
    METADATA_READ_CONCURRENCY,
    async (file): Promise<MetadataRead> => {
      const cached = cache.get(file.path)
      if (
        cached !== undefined &&
        cached.sizeBytes === file.sizeBytes &&
        cached.modifiedMs === file.modifiedMs
      )
        return { file, cached }
      try {
        return { file, metadata: await readMetadataFile(remote, file.path) }
      } catch (error) {
        return { file, message: (error as Error).message }
      }
    },
  )
  let metadataReads = 0
  for (const { file, cached, metadata, message } of read) {
    if (cached !== undefined) fresh.set(file.path, cached)
    else {
      metadataReads++
      if (metadata !== undefined)
        fresh.set(file.path, { sizeBytes: file.sizeBytes, modifiedMs: file.modifiedMs, metadata })
      else invalid.push({ path: file.path, message: message ?? 'unreadable' })
    }
  }
  const changed = metadataReads > 0 || fresh.size !== cache.size || ignored !== undefined
  if (changed && useCache && !(await writeListingCache(remote, dir, fresh)))
    task?.warning(`${dir}/${CACHE_FILE} not written: it would exceed its size limit`)
  const backups: BackupListing[] = []
  for (const [path, { metadata }] of fresh) {
    let named: string[]
    try {
      named = filesOf(metadata, dir)
    } catch (error) {
      invalid.push({ path, message: (error as Error).message })
      continue
    }
    const timestampMs = parseBackupFileName(path.slice(dir.length + 1))?.timestampMs ?? metadata.timestamp
    const missingFiles = named.filter((f) => (files.get(f)?.sizeBytes ?? 0) === 0)
    const checksumFile = metadata.mode === 'full' ? `${named[0] ?? ''}.checksum` : undefined
    backups.push({
      id: path,
      vmUuid: vmUuid.toLowerCase(),
      timestampMs,
      metadata,
      files: named,
      missingFiles,
      ...(checksumFile !== undefined && files.has(checksumFile) ? { checksumFile } : {}),
    })
  }
  backups.sort((a, b) => a.timestampMs - b.timestampMs)
  return { backups, invalid, metadataReads, ...(ignored === undefined ? {} : { cacheIgnored: ignored }) }
}

/** The VMs that have a backup folder (XO's rule: names that are not hidden and not locks). */
export async function listBackupVms(remote: Remote): Promise<string[]> {
  const vms: string[] = []
  for await (const entry of remote.list(VM_BACKUPS_DIR)) {
    const name = entry.path.slice(VM_BACKUPS_DIR.length + 1)
    if (entry.kind === 'directory' && isUuid(name)) vms.push(name)
  }
  return vms.sort()
}
