import assert from 'node:assert/strict'
import { it } from 'node:test'
import { isRemoteError } from '../remote-error.ts'
import type { Remote } from '../remote.ts'
import type { RemoteFactory } from './conformance-support.ts'
import { rejectsWith, withRemote } from './conformance-support.ts'

/** Starts `count` lock attempts, the i-th after i event-loop turns, so their steps interleave. */
async function raceForLock(remote: Remote, path: string, count: number) {
  const takers = Array.from({ length: count }, async (_, i) => {
    for (let tick = 0; tick < i; tick++) await new Promise((resolve) => setImmediate(resolve))
    return remote.lock(path, { ttlMs: 60_000 })
  })
  const results = await Promise.allSettled(takers)
  for (const r of results) {
    if (r.status === 'rejected') assert.ok(isRemoteError(r.reason, 'LOCKED'), String(r.reason))
  }
  return results.filter((r) => r.status === 'fulfilled').length
}

/** The lock part of the conformance suite (declared inside its describe). */
export function conformanceLockTests(factory: RemoteFactory): void {
  it('locks exclusively until release; release is idempotent', () =>
    withRemote(factory, async (remote) => {
      const first = await remote.lock('vms/vm1', { ttlMs: 60_000 })
      await rejectsWith(remote.lock('vms/vm1', { ttlMs: 60_000 }), 'LOCKED')
      const other = await remote.lock('vms/vm2', { ttlMs: 60_000 })
      await first.refresh()
      await first.release()
      await first.release()
      const again = await remote.lock('vms/vm1', { ttlMs: 60_000 })
      assert.notEqual(again.owner, first.owner)
      await again.release()
      await other.release()
    }))

  it('lets a new holder take over an expired lock; the old holder then loses it', () =>
    withRemote(factory, async (remote, clock) => {
      const old = await remote.lock('vm', { ttlMs: 10_000 })
      clock.advance(5_000)
      await old.refresh()
      clock.advance(9_000)
      await rejectsWith(remote.lock('vm', { ttlMs: 10_000 }), 'LOCKED')
      clock.advance(2_000)
      const fresh = await remote.lock('vm', { ttlMs: 10_000 })
      await rejectsWith(old.refresh(), 'LOCK_LOST')
      await old.release()
      await rejectsWith(remote.lock('vm', { ttlMs: 10_000 }), 'LOCKED')
      await fresh.release()
    }))

  it('grants a free or an expired lock to exactly one of racing callers when locking is exclusive', async (t) => {
    await withRemote(factory, async (remote, clock) => {
      if (remote.capabilities.locking !== 'exclusive') {
        t.skip('locking is best-effort on this remote (documented in docs/remotes.md)')
        return
      }
      assert.equal(await raceForLock(remote, 'free', 6), 1)
      const old = await remote.lock('vm', { ttlMs: 1000 })
      clock.advance(5000)
      assert.equal(await raceForLock(remote, 'vm', 6), 1, 'takeover of an expired lock')
      await rejectsWith(old.refresh(), 'LOCK_LOST')
    })
  })
}
