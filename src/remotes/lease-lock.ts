// Check-then-write lease locks, for S3 servers without conditional writes (s3rver, older Ceph
// RGW): a small JSON object at `<path>.lock` with an owner token and an expiry, read back after
// writing. Best-effort: two racing callers may both believe they hold it (docs/remotes.md §5);
// stores with compare-and-swap use cas-lease-lock.ts instead.
import { randomBytes } from 'node:crypto'
import type { Clock } from '../shared/clock.ts'
import { isRemoteError, RemoteError } from './remote-error.ts'
import type { LockHandle, Remote } from './remote.ts'
import { checkRemotePath } from './remote-path.ts'
import { readAll } from './byte-streams.ts'

/** The content of a lease object. */
export interface Lease {
  readonly owner: string
  readonly expiresMs: number
}

type LeaseStore = Pick<Remote, 'read' | 'write' | 'delete'>

async function readLease(store: LeaseStore, leasePath: string): Promise<Lease | undefined> {
  let text: string
  try {
    text = (await readAll(store as Remote, leasePath)).toString('utf8')
  } catch (error) {
    if (isRemoteError(error, 'NOT_FOUND')) return undefined
    throw error
  }
  return parseLease(text)
}

/** Decodes a lease; a torn or foreign lease file reads as expired (it protects nobody). */
export function parseLease(text: string): Lease {
  try {
    const parsed = JSON.parse(text) as Partial<Lease>
    if (typeof parsed.owner === 'string' && typeof parsed.expiresMs === 'number') {
      return { owner: parsed.owner, expiresMs: parsed.expiresMs }
    }
  } catch {
    // falls through to the expired lease
  }
  return { owner: '', expiresMs: 0 }
}

/** Encodes a lease as the bytes of its object. */
export function encodeLease(lease: Lease): Uint8Array {
  return Buffer.from(JSON.stringify(lease))
}

const encode = encodeLease

/** A fresh random owner token. */
export function newLockOwner(): string {
  return randomBytes(12).toString('hex')
}

/**
 * Takes the lease of `path` on `store`: creates `<path>.lock` if absent, replaces it if expired,
 * else throws LOCKED naming the holder and its expiry. The lease is read back after writing so a
 * lost race on a store without atomic conditional create is detected in most cases.
 */
export async function acquireLease(
  store: LeaseStore,
  path: string,
  ttlMs: number,
  clock: Clock,
): Promise<LockHandle> {
  checkRemotePath(path)
  if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be > 0, got ${ttlMs}`)
  const leasePath = `${path}.lock`
  const owner = newLockOwner()
  for (let attempt = 0; ; attempt++) {
    try {
      await store.write(leasePath, encode({ owner, expiresMs: clock.now() + ttlMs }), { ifAbsent: true })
      break
    } catch (error) {
      if (!isRemoteError(error, 'ALREADY_EXISTS')) throw error
    }
    const current = await readLease(store, leasePath)
    if (current !== undefined && current.expiresMs > clock.now()) {
      throw new RemoteError(
        'LOCKED',
        `${JSON.stringify(path)} is locked by ${current.owner} until ${current.expiresMs}`,
        {
          details: { path, owner: current.owner, expiresMs: current.expiresMs },
        },
      )
    }
    if (attempt > 0)
      throw new RemoteError('LOCKED', `${JSON.stringify(path)}: lost the race to take over a stale lock`)
    // Stale (expired or unreadable): remove it and try to create ours once more.
    await store.delete(leasePath)
  }
  const check = await readLease(store, leasePath)
  if (check?.owner !== owner) {
    throw new RemoteError('LOCKED', `${JSON.stringify(path)}: another holder won the lock`, {
      details: { path, owner: check?.owner ?? null },
    })
  }
  return createLeaseHandle(store, path, leasePath, owner, ttlMs, clock)
}

function createLeaseHandle(
  store: LeaseStore,
  path: string,
  leasePath: string,
  owner: string,
  ttlMs: number,
  clock: Clock,
): LockHandle {
  let released = false
  return {
    path,
    owner,
    async refresh() {
      const current = await readLease(store, leasePath)
      if (released || current?.owner !== owner) {
        throw new RemoteError('LOCK_LOST', `lock of ${JSON.stringify(path)} is no longer held by ${owner}`, {
          details: { path, owner, holder: current?.owner ?? null },
        })
      }
      await store.write(leasePath, encode({ owner, expiresMs: clock.now() + ttlMs }))
    },
    async release() {
      if (released) return
      released = true
      const current = await readLease(store, leasePath)
      // Never remove a lease that another holder took over after ours expired.
      if (current?.owner === owner) await store.delete(leasePath)
    },
  }
}
