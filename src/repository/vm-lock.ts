import type { LockHandle, Remote } from '../remotes/remote.ts'
import { vmDir } from './layout.ts'

/** How long a VM lock lives without refresh; long steps (merges) refresh it as they go. */
export const VM_LOCK_TTL_MS = 30 * 60_000

/**
 * Runs `fn` holding the lock of a VM's backup folder (XO locks the same path, so an XO writer and
 * ours exclude each other on filesystems), and releases it however `fn` ends.
 */
export async function withVmLock<T>(
  remote: Remote,
  vmUuid: string,
  fn: (lock: LockHandle) => Promise<T>,
): Promise<T> {
  const lock = await remote.lock(vmDir(vmUuid), { ttlMs: VM_LOCK_TTL_MS })
  try {
    return await fn(lock)
  } finally {
    await lock.release()
  }
}
