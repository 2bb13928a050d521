// Shared fixtures of the store's tests: temp data directories and sample records.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { createFixedClock } from '../../shared/clock.ts'
import type { FixedClock } from '../../shared/clock.ts'
import type { JobRecord, PoolRecord, RemoteRecord, RunRecord, ScheduleRecord } from '../model.ts'
import type { Store } from '../store-port.ts'
import { openStore } from './open-store.ts'
import { StoreError } from './store-error.ts'

/** A fresh directory under the OS temp dir, removed when test `t` ends. */
export function tempDir(t: TestContext, prefix = 'xb-store-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** A store in a fresh `data` directory of a temp dir with a fixed clock; closed when `t` ends. */
export function tempStore(t: TestContext): { store: Store; dataDir: string; clock: FixedClock } {
  const dataDir = join(tempDir(t), 'data')
  const clock = createFixedClock()
  const store = openStore(dataDir, { clock })
  // Closing twice is harmless (better-sqlite3's close is idempotent), so tests may close early.
  t.after(() => {
    store.close()
  })
  return { store, dataDir, clock }
}

/** A pool record with id `id`. */
export function samplePool(id: string, overrides: Partial<PoolRecord> = {}): PoolRecord {
  return {
    id,
    name: `pool ${id}`,
    url: 'https://xapi.example',
    username: 'root',
    allowUnauthorized: false,
    createdAt: 1000,
    updatedAt: 1000,
    ...overrides,
  }
}

/** A remote record with id `id` (its url already redacted). */
export function sampleRemote(id: string, overrides: Partial<RemoteRecord> = {}): RemoteRecord {
  return {
    id,
    name: `remote ${id}`,
    url: 's3://***@bucket/dir',
    createdAt: 1000,
    updatedAt: 1000,
    ...overrides,
  }
}

/** A job record with id `id` carrying a nested job object. */
export function sampleJob(id: string, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    name: `job ${id}`,
    job: {
      id,
      name: `job ${id}`,
      mode: 'full',
      remotes: { id: { __or: ['r1'] } },
      settings: { '': { retention: 2 } },
    },
    createdAt: 1000,
    updatedAt: 1000,
    ...overrides,
  }
}

/** A schedule record of job `jobId`. */
export function sampleSchedule(
  id: string,
  jobId: string,
  overrides: Partial<ScheduleRecord> = {},
): ScheduleRecord {
  return {
    id,
    jobId,
    name: `schedule ${id}`,
    cron: '0 2 * * *',
    timezone: 'Europe/Paris',
    enabled: true,
    settings: { exportRetention: 3 },
    createdAt: 1000,
    updatedAt: 1000,
    ...overrides,
  }
}

/** A finished backup run of job `jobId` started at `start`. */
export function sampleRun(
  id: string,
  jobId: string | null,
  start: number,
  overrides: Partial<RunRecord> = {},
): RunRecord {
  return {
    id,
    kind: 'backup',
    jobId,
    scheduleId: null,
    trigger: 'manual',
    status: 'success',
    reason: null,
    start,
    end: start + 60_000,
    sizeBytes: 1024,
    vms: [{ uuid: '11111111-2222-3333-4444-555555555555', name: 'vm', status: 'success' }],
    params: { vms: ['11111111-2222-3333-4444-555555555555'] },
    ...overrides,
  }
}

/** The StoreError thrown by `fn` (fails the test when it returns or throws anything else). */
export function storeErrorOf(fn: () => unknown): StoreError {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${String(error)}`)
    return error
  }
  assert.fail('expected a StoreError, nothing was thrown')
}
