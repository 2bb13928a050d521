// What a restored VM is called and what it keeps of its source (xen-orchestra-backups.md §4
// post-import, seed "Attributes": imported from backup → tag `restored from backup`): pure.
import { formatBackupTimestamp } from '../../shared/timestamps.ts'

/** The tag every restored VM gets (seed "Of created VMs"). */
export const RESTORED_TAG = 'restored from backup'

/**
 * True for the other_config keys of backup and replication bookkeeping (`xo:backup:*`,
 * `xo:copy_of`, `xo:base_delta_vdi`): a restored VM and its disks keep none of them, so no job
 * takes the restored VM for one of its snapshots or replicas.
 */
export function isBackupKey(key: string): boolean {
  return key.startsWith('xo:backup:') || key === 'xo:copy_of' || key === 'xo:base_delta_vdi'
}

/** `map` without its backup bookkeeping keys (isBackupKey) and without non-string values. */
export function withoutBackupKeys(map: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return out
  for (const [key, value] of Object.entries(map as Record<string, unknown>))
    if (typeof value === 'string' && !isBackupKey(key)) out[key] = value
  return out
}

/** `<name> (<YYYYMMDDTHHmmssZ of the backup>)`. */
export function restoredName(originalName: string, backupTimestampMs: number): string {
  return `${originalName} (${formatBackupTimestamp(backupTimestampMs)})`
}

/** `Restored on <now, ISO 8601> from <remote> - <original description>`. */
export function restoredDescription(nowMs: number, remoteName: string, originalDescription: string): string {
  return `Restored on ${new Date(nowMs).toISOString()} from ${remoteName} - ${originalDescription}`
}

/** The restored VM's tags: the source's, then RESTORED_TAG, each once. */
export function restoredTags(originalTags: unknown): string[] {
  const tags = Array.isArray(originalTags)
    ? originalTags.filter((t): t is string => typeof t === 'string')
    : []
  return [...new Set([...tags, RESTORED_TAG])]
}
