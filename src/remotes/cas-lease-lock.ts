// Lease locks on stores with compare-and-swap (S3 If-Match/If-None-Match, the memory remote):
// every change of the lease object names the version it replaces, so of racing callers exactly
// one wins, for a free lock as for an expired one (docs/remotes.md §5).
import type { Clock } from '../shared/clock.ts'
import { encodeLease, newLockOwner, parseLease } from './lease-lock.ts'
import type { Lease } from './lease-lock.ts'
import { RemoteError } from './remote-error.ts'
import type { LockHandle } from './remote.ts'
import { checkRemotePath } from './remote-path.ts'

/** Versioned access to one small object; a version is opaque (an S3 ETag). */
export interface VersionedStore {
  /** The object and its version, or undefined when absent. */
  readVersioned(path: string): Promise<{ readonly data: Buffer; readonly version: string } | undefined>
  /**
   * Writes `data` if the object is still at `version` (`undefined`: only if absent); returns the
   * new version, or undefined when the object changed meanwhile.
   */
  replaceIf(path: string, data: Uint8Array, version: string | undefined): Promise<string | undefined>
  /** Deletes the object if it is still at `version`; false when it changed. */
  deleteIf(path: string, version: string): Promise<boolean>
}

const locked = (path: string, lease: Lease | undefined): RemoteError =>
  new RemoteError('LOCKED', `${JSON.stringify(path)} is locked by ${lease?.owner ?? 'another holder'}`, {
    details: { path, owner: lease?.owner ?? null, expiresMs: lease?.expiresMs ?? null },
  })

/**
 * Takes the lease of `path`: creates `<path>.lock` only if absent, or replaces an expired one only
 * if it is still the version that was read; LOCKED otherwise.
 */
export async function acquireCasLease(
  store: VersionedStore,
  path: string,
  ttlMs: number,
  clock: Clock,
): Promise<LockHandle> {
  checkRemotePath(path)
  if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be > 0, got ${ttlMs}`)
  const leasePath = `${path}.lock`
  const owner = newLockOwner()
  const mine = (): Uint8Array => encodeLease({ owner, expiresMs: clock.now() + ttlMs })
  let version = await store.replaceIf(leasePath, mine(), undefined)
  if (version === undefined) {
    const current = await store.readVersioned(leasePath)
    const lease = current === undefined ? undefined : parseLease(current.data.toString('utf8'))
    if (lease !== undefined && lease.expiresMs > clock.now()) throw locked(path, lease)
    // Expired (or gone again): replace exactly the version we judged, so one taker wins.
    version = await store.replaceIf(leasePath, mine(), current?.version)
    if (version === undefined) throw locked(path, undefined)
  }
  let held: string | undefined = version
  return {
    path,
    owner,
    async refresh() {
      const next = held === undefined ? undefined : await store.replaceIf(leasePath, mine(), held)
      if (next === undefined) {
        held = undefined
        throw new RemoteError('LOCK_LOST', `lock of ${JSON.stringify(path)} is no longer held by ${owner}`, {
          details: { path, owner },
        })
      }
      held = next
    },
    async release() {
      if (held === undefined) return
      const version = held
      held = undefined
      // A lease someone took over has another version: deleteIf leaves it alone.
      await store.deleteIf(leasePath, version)
    },
  }
}
