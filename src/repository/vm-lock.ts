import { isRemoteError } from '../remotes/remote-error.ts'
import type { LockHandle, Remote } from '../remotes/remote.ts'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import { vmDir } from './layout.ts'

/**
 * How long a VM lock lives without refresh. Short, so that a process killed while holding it
 * blocks the VM's next backup for seconds, not for a night: the holder renews it in the
 * background (LeaseKeeper) whatever step it is in. XO's own lock goes stale after 10 s.
 */
export const VM_LOCK_TTL_MS = 30_000

/** How long acquireVmLock waits for a lock held by another: a dead holder's lease runs out by then. */
export const VM_LOCK_WAIT_MS = VM_LOCK_TTL_MS + 15_000

const RETRY_MS = 2_000

/**
 * A held lease kept alive until released: renewed once a third of it has passed, by a background
 * timer (a step may wait minutes on XAPI or on one big merge) and by `keepAlive` calls on the data
 * path; concurrent renewals share one request (two would race on the lease's version). A renewal
 * that fails (LOCK_LOST: someone took the lock over) is kept and thrown by the next `keepAlive`
 * or `refresh`, which stops the writer instead of letting two share the folder. The timer only
 * triggers; whether a renewal is due is read from the injected clock, so a test clock that stands
 * still renews nothing by itself.
 */
export class LeaseKeeper implements LockHandle {
  readonly #handle: LockHandle
  readonly #clock: Clock
  readonly #refreshEveryMs: number
  readonly #timer: ReturnType<typeof setInterval>
  #lastRefreshMs: number
  #renewing: Promise<void> | undefined
  #failure: { readonly error: unknown } | undefined

  constructor(handle: LockHandle, clock: Clock, ttlMs: number) {
    this.#handle = handle
    this.#clock = clock
    this.#refreshEveryMs = ttlMs / 3
    this.#lastRefreshMs = clock.now()
    this.#timer = setInterval(
      () => {
        this.keepAlive().catch(() => undefined) // kept in #failure for the next caller
      },
      Math.max(250, Math.min(ttlMs / 6, 5_000)),
    )
    this.#timer.unref()
  }

  get path(): string {
    return this.#handle.path
  }

  get owner(): string {
    return this.#handle.owner
  }

  /** Renews the lease if a third of it has passed since the last renewal; throws a renewal's failure. */
  async keepAlive(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure.error
    if (this.#renewing !== undefined) return this.#renewing
    if (this.#clock.now() - this.#lastRefreshMs < this.#refreshEveryMs) return
    return this.#renew()
  }

  /** Renews the lease now (joining a renewal in flight); throws LOCK_LOST if it was taken over. */
  async refresh(): Promise<void> {
    if (this.#failure !== undefined) throw this.#failure.error
    return this.#renewing ?? this.#renew()
  }

  /** Stops the renewals and releases the lock (idempotent; never removes another holder's lock). */
  async release(): Promise<void> {
    clearInterval(this.#timer)
    await this.#renewing?.catch(() => undefined)
    await this.#handle.release()
  }

  #renew(): Promise<void> {
    this.#renewing = this.#handle.refresh().then(
      () => {
        this.#lastRefreshMs = this.#clock.now()
        this.#renewing = undefined
      },
      (error: unknown) => {
        this.#renewing = undefined
        if (isRemoteError(error, 'LOCK_LOST')) this.#failure = { error }
        throw error
      },
    )
    return this.#renewing
  }
}

/** Options of acquireVmLock. */
export interface VmLockOptions {
  readonly clock?: Clock
  readonly signal?: AbortSignal
  /** Told once when the lock is held by another and the call starts waiting for it. */
  readonly onWait?: (error: unknown) => void
}

/**
 * Takes the lock of a VM's backup folder, waiting up to VM_LOCK_WAIT_MS while another holds it
 * (a crashed run's lease runs out meanwhile; a live holder keeps it, and LOCKED is thrown then),
 * and keeps it alive until released.
 */
export async function acquireVmLock(
  remote: Remote,
  vmUuid: string,
  options: VmLockOptions = {},
): Promise<LeaseKeeper> {
  const clock = options.clock ?? systemClock
  const deadline = clock.now() + VM_LOCK_WAIT_MS
  let told = false
  for (;;) {
    try {
      const handle = await remote.lock(vmDir(vmUuid), { ttlMs: VM_LOCK_TTL_MS })
      return new LeaseKeeper(handle, clock, VM_LOCK_TTL_MS)
    } catch (error) {
      const left = deadline - clock.now()
      if (!isRemoteError(error, 'LOCKED') || left <= 0) throw error
      if (!told) options.onWait?.(error)
      told = true
      await clock.sleep(Math.min(RETRY_MS, left), options.signal)
    }
  }
}

/**
 * Runs `fn` holding the lock of a VM's backup folder (XO locks the same path, so an XO writer and
 * ours exclude each other on filesystems), kept alive meanwhile, and releases it however `fn` ends.
 */
export async function withVmLock<T>(
  remote: Remote,
  vmUuid: string,
  fn: (lock: LockHandle) => Promise<T>,
  options: VmLockOptions = {},
): Promise<T> {
  const lock = await acquireVmLock(remote, vmUuid, options)
  try {
    return await fn(lock)
  } finally {
    await lock.release()
  }
}
