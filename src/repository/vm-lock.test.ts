import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it, mock } from 'node:test'
import { isRemoteError } from '../remotes/remote-error.ts'
import { MemoryRemote } from '../remotes/testing/memory-remote.ts'
import { createFixedClock } from '../shared/clock.ts'
import type { FixedClock } from '../shared/clock.ts'
import { vmDir } from './layout.ts'
import { acquireVmLock, VM_LOCK_TTL_MS, VM_LOCK_WAIT_MS, withVmLock } from './vm-lock.ts'

const VM = '0b7e7c2e-1d2b-4c1e-9f7a-3e2d1c0b9a88'

describe('VM lock', () => {
  let clock: FixedClock
  let remote: MemoryRemote
  beforeEach(() => {
    // The keeper's timer is mocked: time moves only when the test says, for the clock and the timer.
    mock.timers.enable({ apis: ['setInterval'] })
    clock = createFixedClock()
    remote = new MemoryRemote({ clock })
  })
  afterEach(() => {
    mock.timers.reset()
  })
  const pass = async (ms: number) => {
    for (let t = 0; t < ms; t += 1000) {
      clock.advance(1000)
      mock.timers.tick(1000)
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const isFree = async () => {
    try {
      await (await remote.lock(vmDir(VM), { ttlMs: 1000 })).release()
      return true
    } catch (error) {
      if (isRemoteError(error, 'LOCKED')) return false
      throw error
    }
  }

  it('is renewed in the background while held, however long a step takes, and freed at release', async () => {
    const lock = await acquireVmLock(remote, VM, { clock })
    for (let lease = 1; lease <= 10; lease++) {
      await pass(VM_LOCK_TTL_MS)
      assert.equal(await isFree(), false, `still held after ${lease} lease(s) without any keepAlive call`)
    }
    await lock.release()
    assert.equal(await isFree(), true)
    await pass(2 * VM_LOCK_TTL_MS) // no timer left renewing a released lock
    assert.equal(await isFree(), true)
  })

  it('a holder that stops renewing (a killed process) loses it after its lease', async () => {
    await remote.lock(vmDir(VM), { ttlMs: VM_LOCK_TTL_MS })
    assert.equal(await isFree(), false)
    await pass(VM_LOCK_TTL_MS + 1000)
    assert.equal(await isFree(), true)
  })

  it('a lock taken over is reported by the next keepAlive and refresh (LOCK_LOST)', async () => {
    const lock = await acquireVmLock(remote, VM, { clock })
    // Another process, after our renewals stopped (e.g. the machine was suspended).
    mock.timers.reset()
    clock.advance(VM_LOCK_TTL_MS + 1)
    const other = await remote.lock(vmDir(VM), { ttlMs: VM_LOCK_TTL_MS })
    const lost = (error: unknown) => isRemoteError(error, 'LOCK_LOST')
    await assert.rejects(lock.keepAlive(), lost)
    await assert.rejects(lock.refresh(), lost)
    await lock.release() // never removes the other holder's lock
    assert.equal(await isFree(), false)
    await other.release()
  })

  it('withVmLock waits for a dead holder, then runs; a live one makes it fail with LOCKED after the wait', async () => {
    mock.timers.reset() // the waits below sleep on the fixed clock, which moves time at once
    await remote.lock(vmDir(VM), { ttlMs: VM_LOCK_TTL_MS })
    let waited = 0
    const start = clock.now()
    assert.equal(
      await withVmLock(remote, VM, () => Promise.resolve('ran'), { clock, onWait: () => waited++ }),
      'ran',
    )
    assert.equal(waited, 1)
    assert.ok(
      clock.now() - start >= VM_LOCK_TTL_MS && clock.now() - start < VM_LOCK_WAIT_MS,
      'clock.now() - start >= VM_LOCK_TTL_MS && clock.now() - start < VM_LOCK_WAIT_MS',
    )
    const live = await remote.lock(vmDir(VM), { ttlMs: 100 * VM_LOCK_WAIT_MS })
    await assert.rejects(
      withVmLock(remote, VM, () => Promise.resolve('ran'), { clock }),
      (error) => isRemoteError(error, 'LOCKED'),
    )
    await live.release()
  })
})
