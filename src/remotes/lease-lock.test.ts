import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import { acquireLease, parseLease } from './lease-lock.ts'
import { isRemoteError } from './remote-error.ts'
import { MemoryRemote } from './testing/memory-remote.ts'

const TTL = 10_000

describe('check-then-write lease lock', () => {
  it('holds until the expiry instant exactly: LOCKED one millisecond before, free at it', async () => {
    const clock = createFixedClock(1_000)
    const store = new MemoryRemote({ clock })
    const first = await acquireLease(store, 'vm', TTL, clock)
    assert.equal(
      parseLease((store.files.get('vm.lock')?.data ?? Buffer.alloc(0)).toString()).expiresMs,
      11_000,
    )
    clock.advance(TTL - 1)
    await assert.rejects(acquireLease(store, 'vm', TTL, clock), (e) => isRemoteError(e, 'LOCKED'))
    clock.advance(1) // now === expiresMs: the lease protects up to, not including, its expiry
    const second = await acquireLease(store, 'vm', TTL, clock)
    assert.notEqual(second.owner, first.owner)
    await assert.rejects(first.refresh(), (e) => isRemoteError(e, 'LOCK_LOST'))
    await second.release()
  })

  it('a refresh moves the expiry: the boundary follows it', async () => {
    const clock = createFixedClock(0)
    const store = new MemoryRemote({ clock })
    const lock = await acquireLease(store, 'vm', TTL, clock)
    clock.advance(5_000)
    await lock.refresh()
    clock.advance(TTL - 1)
    await assert.rejects(acquireLease(store, 'vm', TTL, clock), (e) => isRemoteError(e, 'LOCKED'))
    clock.advance(1)
    await (await acquireLease(store, 'vm', TTL, clock)).release()
  })
})
