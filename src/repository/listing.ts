import { gunzipSync, gzipSync } from 'node:zlib'
import type { Remote, RemoteEntry } from '../remotes/remote.ts'
import { isUuid } from '../shared/ids.ts'
import { CACHE_FILE, parseBackupFileName, resolveInVmDir, VM_BACKUPS_DIR, vmDir } from './layout.ts'
import type { BackupMetadata } from './metadata.ts'
import { parseBackupMetadata, validateBackupMetadata } from './metadata.ts'
import { readSmallFile } from './read-file.ts'

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
}

interface CacheEntry {
  readonly sizeBytes: number
  readonly modifiedMs: number | undefined
  readonly metadata: BackupMetadata
}

/** The data files a metadata names, resolved inside the VM folder (PATH_INVALID if one escapes). */
export function filesOf(metadata: BackupMetadata, vmDirPath: string): string[] {
  if (metadata.mode === 'full') return [resolveInVmDir(vmDirPath, metadata.xva, 'xva')]
  return Object.entries(metadata.vhds).map(([ref, path]) => resolveInVmDir(vmDirPath, path, `vhds.${ref}`))
}

async function readCache(remote: Remote, dir: string): Promise<Map<string, CacheEntry>> {
  try {
    const parsed = JSON.parse(
      gunzipSync(await readSmallFile(remote, `${dir}/${CACHE_FILE}`)).toString('utf8'),
    ) as Record<string, { _stat?: { sizeBytes?: unknown; modifiedMs?: unknown } } & Record<string, unknown>>
    const out = new Map<string, CacheEntry>()
    for (const [key, value] of Object.entries(parsed)) {
      const { _stat: stat, _filename: _f, id: _id, ...metadata } = value
      if (typeof stat?.sizeBytes !== 'number') continue // an XO-written entry: no stat, so re-read once
      const path = key.replace(/^\//, '')
      out.set(path, {
        sizeBytes: stat.sizeBytes,
        modifiedMs: typeof stat.modifiedMs === 'number' ? stat.modifiedMs : undefined,
        metadata: validateBackupMetadata(metadata, path),
      })
    }
    return out
  } catch {
    // A missing, corrupt or foreign cache is only a lost optimisation: the files are the truth.
    return new Map()
  }
}

async function writeCache(
  remote: Remote,
  dir: string,
  entries: ReadonlyMap<string, CacheEntry>,
): Promise<void> {
  const json: Record<string, unknown> = {}
  for (const [path, entry] of entries) {
    // XO's shape (`/`-rooted key, metadata + _filename + id) plus our `_stat` to detect staleness.
    json[`/${path}`] = {
      ...entry.metadata,
      _filename: `/${path}`,
      id: `/${path}`,
      _stat: { sizeBytes: entry.sizeBytes, modifiedMs: entry.modifiedMs ?? null },
    }
  }
  await remote.write(`${dir}/${CACHE_FILE}`, gzipSync(JSON.stringify(json)))
}

/**
 * Lists a VM's backups with one recursive listing of its folder: metadata files unchanged since
 * the cache was written (same size and mtime) come from `cache.json.gz`, the others are read and
 * the cache is rewritten. Each backup says which of its files are missing. Never throws for one
 * bad metadata file: it is reported in `invalid`.
 */
export async function listVmBackups(
  remote: Remote,
  vmUuid: string,
  options: { useCache?: boolean } = {},
): Promise<VmBackups> {
  const dir = vmDir(vmUuid)
  const files = new Map<string, RemoteEntry>()
  for await (const entry of remote.list(dir, { recursive: true })) files.set(entry.path, entry)
  const metadataFiles = [...files.values()].filter(
    (e) =>
      e.path.lastIndexOf('/') === dir.length &&
      parseBackupFileName(e.path.slice(dir.length + 1))?.kind === 'metadata',
  )
  const cache = options.useCache === false ? new Map<string, CacheEntry>() : await readCache(remote, dir)
  const fresh = new Map<string, CacheEntry>()
  const invalid: { path: string; message: string }[] = []
  let metadataReads = 0
  for (const file of metadataFiles) {
    const cached = cache.get(file.path)
    if (
      cached !== undefined &&
      cached.sizeBytes === file.sizeBytes &&
      cached.modifiedMs === file.modifiedMs
    ) {
      fresh.set(file.path, cached)
      continue
    }
    try {
      metadataReads++
      const metadata = parseBackupMetadata(
        (await readSmallFile(remote, file.path)).toString('utf8'),
        file.path,
      )
      fresh.set(file.path, { sizeBytes: file.sizeBytes, modifiedMs: file.modifiedMs, metadata })
    } catch (error) {
      invalid.push({ path: file.path, message: (error as Error).message })
    }
  }
  const changed = metadataReads > 0 || fresh.size !== cache.size
  if (changed && options.useCache !== false) await writeCache(remote, dir, fresh)
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
  return { backups, invalid, metadataReads }
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
