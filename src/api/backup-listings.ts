// Listings of a remote's backups for the API (GET /api/remotes/{id}/backups, the dashboard's
// repository sizes). Listing 10,000 backups reads every VM folder (seconds on a local disk, more on
// S3), so the whole listing of a remote is kept in memory for a minute — and dropped as soon as a
// run of this server ends or the remote is changed, since both can change what is there. Backups
// written by another program (XO on the same remote) show up within that minute.
import type { BackupItem } from '../app/server-services.ts'
import type { RemoteRecord } from '../daemon/model.ts'
import type { ApiDeps } from './api-context.ts'
import { remoteUrl } from './api-context.ts'

/** How long a remote's listing is reused when nothing of this server changed it. */
export const LISTING_CACHE_MS = 60_000

/** Cached listings of remotes' backups. */
export interface BackupListings {
  /** The remote's backups (of VM `vmUuid` only when given), newest first. */
  list(remote: RemoteRecord, vmUuid?: string): Promise<BackupItem[]>
  /** Drops what is kept of a remote (changed or deleted). */
  forget(remoteId: string): void
}

/** Listings over `deps.operations.listRemoteBackups`, cached per remote. */
export function createBackupListings(
  deps: Pick<ApiDeps, 'store' | 'clock' | 'runs' | 'operations'>,
): BackupListings {
  const cache = new Map<string, { at: number; items: Promise<BackupItem[]> }>()
  const fresh = (remote: RemoteRecord): Promise<BackupItem[]> | undefined => {
    const kept = cache.get(remote.id)
    if (kept === undefined) return undefined
    const stale =
      deps.clock.now() - kept.at >= LISTING_CACHE_MS ||
      deps.runs.lastEndedAt >= kept.at ||
      remote.updatedAt >= kept.at
    return stale ? undefined : kept.items
  }
  return {
    list(remote, vmUuid) {
      const kept = fresh(remote)
      const url = remoteUrl(deps.store, remote.id, remote.name)
      if (kept !== undefined)
        return vmUuid === undefined ? kept : kept.then((items) => items.filter((b) => b.vmUuid === vmUuid))
      // One VM's listing reads one folder: not worth keeping.
      if (vmUuid !== undefined) return deps.operations.listRemoteBackups(url, vmUuid)
      const items = deps.operations.listRemoteBackups(url)
      const entry = { at: deps.clock.now(), items }
      cache.set(remote.id, entry)
      // A failed listing is not kept: the next request tries again.
      items.catch(() => {
        if (cache.get(remote.id) === entry) cache.delete(remote.id)
      })
      return items
    },
    forget(remoteId) {
      cache.delete(remoteId)
    },
  }
}
