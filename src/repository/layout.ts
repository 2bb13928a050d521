import { PathError, resolveReference } from '../shared/confine.ts'
import { isUuid } from '../shared/ids.ts'
import { formatBackupTimestamp, parseBackupTimestamp } from '../shared/timestamps.ts'
import { RepositoryError } from './repository-error.ts'

/** The root folder of VM backups on a remote (seed "File structure on remote"). */
export const VM_BACKUPS_DIR = 'xo-vm-backups'

/** XO's per-VM listing cache, gzip'ed JSON (xen-orchestra-backups.md §2.3). */
export const CACHE_FILE = 'cache.json.gz'

function checkUuid(value: string, what: string): string {
  if (!isUuid(value))
    throw new RepositoryError('PATH_INVALID', `${what}: expected a UUID, got ${JSON.stringify(value)}`)
  return value.toLowerCase()
}

/** `xo-vm-backups/<vm>`: the folder of one VM's backups. */
export function vmDir(vmUuid: string): string {
  return `${VM_BACKUPS_DIR}/${checkUuid(vmUuid, 'VM uuid')}`
}

/** `xo-vm-backups/<vm>/<ts>.json`: a backup's metadata, the commit point of the backup. */
export function metadataPath(vmUuid: string, timestampMs: number): string {
  return `${vmDir(vmUuid)}/${formatBackupTimestamp(timestampMs)}.json`
}

/** `xo-vm-backups/<vm>/<ts>.xva`: a full backup's data (its checksum is `<that>.checksum`). */
export function xvaPath(vmUuid: string, timestampMs: number): string {
  return `${vmDir(vmUuid)}/${formatBackupTimestamp(timestampMs)}.xva`
}

/** `xo-vm-backups/<vm>/vdis/<job>/<vdi>`: the chain folder of one disk for one job. */
export function vdiDir(vmUuid: string, jobId: string, vdiUuid: string): string {
  return `${vmDir(vmUuid)}/vdis/${checkUuid(jobId, 'job id')}/${checkUuid(vdiUuid, 'VDI uuid')}`
}

/** `xo-vm-backups/<vm>/vdis/<job>/<vdi>/<ts>.vhd`: one disk of one delta backup. */
export function vhdPath(vmUuid: string, jobId: string, vdiUuid: string, timestampMs: number): string {
  return `${vdiDir(vmUuid, jobId, vdiUuid)}/${formatBackupTimestamp(timestampMs)}.vhd`
}

/** What a file name in a VM folder is. */
export interface BackupFileName {
  readonly stem: string
  readonly timestampMs: number
  readonly kind: 'metadata' | 'xva' | 'xva-checksum' | 'vhd'
}

const NAME = /^([0-9TZ:.-]+?)\.(json|xva|xva\.checksum|vhd)$/

/** Parses `<timestamp>.json|.xva|.xva.checksum|.vhd`; undefined for any other name (temp files, caches…). */
export function parseBackupFileName(name: string): BackupFileName | undefined {
  const match = NAME.exec(name)
  if (match === null) return undefined
  const [, stem = '', extension] = match
  let timestampMs: number
  try {
    timestampMs = parseBackupTimestamp(stem)
  } catch {
    return undefined
  }
  const kind =
    extension === 'json'
      ? 'metadata'
      : extension === 'xva'
        ? 'xva'
        : extension === 'vhd'
          ? 'vhd'
          : 'xva-checksum'
  return { stem, timestampMs, kind }
}

/**
 * Resolves a path written inside metadata (`./<ts>.xva`, `vdis/<job>/<vdi>/<ts>.vhd`) against the
 * VM folder `vmDirPath` (where the metadata file lives) through the confinement gate, with the VM
 * folder as scope: the normalised remote path, or PathError PATH_INVALID (absolute, empty segment,
 * backslash, NUL) / PATH_ESCAPE (it leaves the VM folder, into another VM's or out of the
 * repository), the message naming `field`.
 */
export function resolveInVmDir(vmDirPath: string, relative: string, field: string): string {
  try {
    return resolveReference(vmDirPath, relative, vmDirPath)
  } catch (error) {
    if (!(error instanceof PathError)) throw error
    // A hostile path can be megabytes long: the message quotes its start only.
    const got = JSON.stringify(relative.length > 200 ? `${relative.slice(0, 200)}…` : relative)
    const reason = typeof error.details?.reason === 'string' ? error.details.reason : error.message
    throw new PathError(
      error.code,
      `${field}: expected a path inside the VM folder, got ${got} (${reason})`,
      {
        details: { field, reason },
        cause: error,
      },
    )
  }
}
