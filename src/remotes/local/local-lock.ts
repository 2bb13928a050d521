// Lock directories (xen-orchestra-backups.md §2.8: XO locks `<path>.lock` directories too):
// mkdir(2) is atomic on local filesystems and NFS, so exactly one caller creates the directory.
// An `owner.json` inside names the holder and its expiry, for stale detection.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Clock } from '../../shared/clock.ts'
import { errorCode } from '../../shared/errors.ts'
import { newLockOwner } from '../lease-lock.ts'
import { RemoteError, toRemoteError } from '../remote-error.ts'
import type { LockHandle } from '../remote.ts'

interface Owner {
  readonly owner: string
  readonly expiresMs: number
}

/** The holder of a lock directory; an unreadable owner file expires `ttlMs` after the dir's mtime. */
async function readOwner(lockDir: string, ttlMs: number): Promise<Owner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(lockDir, 'owner.json'), 'utf8')) as Partial<Owner>
    if (typeof parsed.owner === 'string' && typeof parsed.expiresMs === 'number') {
      return { owner: parsed.owner, expiresMs: parsed.expiresMs }
    }
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      // Either no lock at all, or a holder between mkdir and writing its owner file.
      try {
        return { owner: '', expiresMs: (await stat(lockDir)).mtimeMs + ttlMs }
      } catch (inner) {
        if (errorCode(inner) === 'ENOENT') return undefined
        throw inner
      }
    }
  }
  return { owner: '', expiresMs: 0 }
}

async function writeOwner(lockDir: string, owner: Owner): Promise<void> {
  const temp = join(lockDir, `.owner.${owner.owner}.tmp`)
  await writeFile(temp, JSON.stringify(owner))
  await rename(temp, join(lockDir, 'owner.json'))
}

/**
 * Breaks the stale lock instance `stale` (its owner and expiry identify it). A marker directory
 * `<lock>.break-<owner>-<expiresMs>` beside the lock lets only one breaker act on an instance
 * (mkdir is atomic); that breaker then checks that the lock is still this instance (a new holder
 * may have replaced it meanwhile) before moving it away and removing it. A breaker that lost the
 * marker race just retries taking the lock. Creating the marker beside the lock, not inside it,
 * keeps the lock directory's mtime (the expiry of an owner-less lock) unchanged.
 */
async function breakStale(lockDir: string, stale: Owner, ttlMs: number): Promise<void> {
  const marker = `${lockDir}.break-${stale.owner || 'none'}-${stale.expiresMs}`
  try {
    await mkdir(marker)
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return
    throw error
  }
  try {
    const current = await readOwner(lockDir, ttlMs)
    if (current?.owner !== stale.owner || current.expiresMs !== stale.expiresMs) return
    const aside = `${lockDir}.stale-${newLockOwner()}`
    await rename(lockDir, aside)
    await rm(aside, { recursive: true, force: true })
  } finally {
    await rm(marker, { recursive: true, force: true })
  }
}

/**
 * Takes the lock directory `<absolute>.lock`: mkdir, then write the owner file; a lock whose expiry
 * passed (by `clock`) is broken and retaken once; a live one gives LOCKED naming the holder.
 */
export async function lockDirectory(
  absolute: string,
  path: string,
  ttlMs: number,
  clock: Clock,
): Promise<LockHandle> {
  if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be > 0, got ${ttlMs}`)
  const lockDir = `${absolute}.lock`
  const owner = newLockOwner()
  await mkdir(dirname(lockDir), { recursive: true })
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(lockDir)
      break
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw toRemoteError(error, 'lock', path)
    }
    const current = await readOwner(lockDir, ttlMs)
    if (attempt > 0 || (current !== undefined && current.expiresMs > clock.now())) {
      throw new RemoteError(
        'LOCKED',
        `${JSON.stringify(path)} is locked by ${current?.owner || 'a starting holder'}`,
        {
          details: { path, owner: current?.owner ?? null, expiresMs: current?.expiresMs ?? null },
        },
      )
    }
    if (current !== undefined) await breakStale(lockDir, current, ttlMs)
  }
  try {
    await writeOwner(lockDir, { owner, expiresMs: clock.now() + ttlMs })
  } catch (error) {
    // A breaker judged our fresh directory stale before the owner file existed and removed it.
    if (errorCode(error) !== 'ENOENT') throw error
    throw new RemoteError('LOCKED', `${JSON.stringify(path)}: the lock was taken over while being created`, {
      details: { path },
    })
  }
  return createHandle(lockDir, path, owner, ttlMs, clock)
}

function createHandle(lockDir: string, path: string, owner: string, ttlMs: number, clock: Clock): LockHandle {
  let released = false
  const holds = async (): Promise<boolean> => (await readOwner(lockDir, ttlMs))?.owner === owner
  return {
    path,
    owner,
    async refresh() {
      if (released || !(await holds())) {
        throw new RemoteError('LOCK_LOST', `lock of ${JSON.stringify(path)} is no longer held by ${owner}`, {
          details: { path, owner },
        })
      }
      await writeOwner(lockDir, { owner, expiresMs: clock.now() + ttlMs })
    },
    async release() {
      if (released) return
      released = true
      // Never remove a lock another holder took over after ours went stale.
      if (await holds()) await rm(lockDir, { recursive: true, force: true })
    },
  }
}
