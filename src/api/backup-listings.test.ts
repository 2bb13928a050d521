import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BackupItem } from '../app/server-services.ts'
import type { RemoteRecord } from '../daemon/model.ts'
import type { RunService } from '../daemon/run-service.ts'
import type { Store } from '../daemon/store-port.ts'
import { createFixedClock } from '../shared/clock.ts'
import type { ServerOperations } from './api-context.ts'
import { LISTING_CACHE_MS, createBackupListings } from './backup-listings.ts'

const VM_A = 'aaaaaaaa-0000-4000-8000-00000000000a'
const VM_B = 'bbbbbbbb-0000-4000-8000-00000000000b'
const item = (vmUuid: string, timestamp: number): BackupItem => ({
  id: `xo-vm-backups/${vmUuid}/${timestamp}.json`,
  vmUuid,
  vmName: '',
  jobId: 'j',
  jobName: '',
  scheduleId: 's',
  mode: 'delta',
  timestamp,
  sizeBytes: 1,
  complete: true,
})

function world() {
  const clock = createFixedClock(1_000_000)
  const runs = { lastEndedAt: 0 }
  const calls: (string | undefined)[] = []
  let fail = false
  const operations = {
    listRemoteBackups: (_url: string, vm?: string) => {
      calls.push(vm)
      if (fail) return Promise.reject(new Error('remote down'))
      const all = [item(VM_A, 2), item(VM_B, 1)]
      return Promise.resolve(vm === undefined ? all : all.filter((b) => b.vmUuid === vm))
    },
  } as unknown as ServerOperations
  const store = { secrets: { get: () => 'file:///x' } } as unknown as Store
  const listings = createBackupListings({ store, clock, runs: runs as unknown as RunService, operations })
  const remote: RemoteRecord = { id: 'r', name: 'r', url: 'file:///x', createdAt: 0, updatedAt: 0 }
  return { clock, runs, calls, listings, remote, setFail: (v: boolean) => (fail = v) }
}

describe('backup listings cache', () => {
  it('reuses a remote listing (filtered by VM) until a minute passed', async () => {
    const w = world()
    assert.equal((await w.listings.list(w.remote)).length, 2)
    assert.deepEqual(
      (await w.listings.list(w.remote, VM_B)).map((b) => b.vmUuid),
      [VM_B],
    )
    assert.deepEqual(w.calls, [undefined], 'one listing of the remote')
    w.clock.advance(LISTING_CACHE_MS)
    await w.listings.list(w.remote)
    assert.deepEqual(w.calls, [undefined, undefined], 'listed again after the minute')
  })

  it('lists again once a run ended, the remote changed or was forgotten; never keeps a failure', async () => {
    const w = world()
    await w.listings.list(w.remote)
    w.clock.advance(10)
    w.runs.lastEndedAt = w.clock.now()
    await w.listings.list(w.remote)
    assert.equal(w.calls.length, 2, 'a run ended after the listing')
    w.clock.advance(10)
    await w.listings.list({ ...w.remote, updatedAt: w.clock.now() })
    assert.equal(w.calls.length, 3, 'the remote was changed')
    w.listings.forget('r')
    await w.listings.list({ ...w.remote, updatedAt: 0 })
    assert.equal(w.calls.length, 4, 'forgotten')
    w.listings.forget('r')
    w.setFail(true)
    await assert.rejects(w.listings.list(w.remote), /remote down/)
    w.setFail(false)
    assert.equal((await w.listings.list(w.remote)).length, 2, 'the failure was not kept')
  })

  it('lists one VM directly when nothing is kept', async () => {
    const w = world()
    assert.deepEqual(
      (await w.listings.list(w.remote, VM_A)).map((b) => b.vmUuid),
      [VM_A],
    )
    assert.deepEqual(w.calls, [VM_A])
  })
})
