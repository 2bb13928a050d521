import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createFixedClock } from '../shared/clock.ts'
import type { VersionedStore } from './cas-lease-lock.ts'
import { acquireCasLease } from './cas-lease-lock.ts'
import { parseLease } from './lease-lock.ts'
import { isRemoteError } from './remote-error.ts'

const TTL = 10_000

/** A versioned in-memory store: each write gets the next version number. */
function versionedStore(): VersionedStore & { text(path: string): string } {
  const objects = new Map<string, { data: Buffer; version: string }>()
  let next = 0
  return {
    text: (path) => objects.get(path)?.data.toString() ?? '',
    readVersioned: (path) => Promise.resolve(objects.get(path)),
    replaceIf(path, data, version) {
      if (objects.get(path)?.version !== version) return Promise.resolve(undefined)
      const written = { data: Buffer.from(data), version: String(++next) }
      objects.set(path, written)
      return Promise.resolve(written.version)
    },
    deleteIf(path, version) {
      if (objects.get(path)?.version !== version) return Promise.resolve(false)
      objects.delete(path)
      return Promise.resolve(true)
    },
  }
}

describe('compare-and-swap lease lock', () => {
  it('holds until the expiry instant exactly: LOCKED one millisecond before, free at it', async () => {
    const clock = createFixedClock(1_000)
    const store = versionedStore()
    const first = await acquireCasLease(store, 'vm', TTL, clock)
    assert.equal(parseLease(store.text('vm.lock')).expiresMs, 11_000)
    clock.advance(TTL - 1)
    await assert.rejects(acquireCasLease(store, 'vm', TTL, clock), (e) => isRemoteError(e, 'LOCKED'))
    clock.advance(1) // now === expiresMs: the lease protects up to, not including, its expiry
    const second = await acquireCasLease(store, 'vm', TTL, clock)
    assert.notEqual(second.owner, first.owner)
    await assert.rejects(first.refresh(), (e) => isRemoteError(e, 'LOCK_LOST'))
    await first.release()
    assert.equal(
      parseLease(store.text('vm.lock')).owner,
      second.owner,
      "the old holder's release keeps the new lease",
    )
    await second.release()
    assert.equal(store.text('vm.lock'), '')
  })
})
