import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { metadataPath } from '../../repository/layout.ts'
import type { BackupListing } from '../../repository/listing.ts'
import type { BackupMetadata } from '../../repository/metadata.ts'
import { deltaMetadata, fullMetadata, IDS } from '../../repository/testing/sample-metadata.ts'
import { expiredBackups } from './remote-retention.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const t0 = Date.UTC(2026, 2, 2, 12) // a Monday

function listing(metadata: BackupMetadata): BackupListing {
  return {
    id: metadataPath(IDS.vm, metadata.timestamp),
    vmUuid: IDS.vm,
    timestampMs: metadata.timestamp,
    metadata,
    files: [],
    missingFiles: [],
  }
}

const deltas = (times: readonly number[]) => times.map((t) => listing(deltaMetadata(t)))
const ids = (backups: readonly BackupListing[]) => backups.map((b) => b.timestampMs)
const run = (
  newTimestampMs: number,
  settings: Partial<Parameters<typeof expiredBackups>[1]['settings']> = {},
) => ({
  mode: 'delta' as const,
  jobId: IDS.job,
  scheduleId: IDS.schedule,
  newBackupId: metadataPath(IDS.vm, newTimestampMs),
  newTimestampMs,
  settings: { exportRetention: 3, longTermRetention: undefined, timezone: undefined, ...settings },
})

describe('expiredBackups', () => {
  const days = [0, 1, 2, 3, 4].map((i) => t0 + i * DAY)

  it("counts this run's backup among the kept, written already or not (deleteFirst)", () => {
    const now = t0 + 5 * DAY
    assert.deepEqual(ids(expiredBackups(deltas(days), run(now))), days.slice(0, 3))
    // After the transfer the new backup is listed: the same backups expire, and it is never one of them.
    assert.deepEqual(ids(expiredBackups(deltas([...days, now]), run(now))), days.slice(0, 3))
    assert.deepEqual(ids(expiredBackups(deltas([...days, now]), run(now, { exportRetention: 1 }))), days)
  })

  it('leaves backups of other schedules, jobs and modes alone', () => {
    const others = [
      listing({ ...deltaMetadata(t0 - 3 * DAY), scheduleId: 'another-schedule' }),
      listing({ ...deltaMetadata(t0 - 2 * DAY), jobId: '11111111-2222-4333-8444-555555555555' }),
      listing(fullMetadata(t0 - DAY)),
    ]
    const all = [...others, ...deltas(days)]
    assert.deepEqual(ids(expiredBackups(all, run(t0 + 5 * DAY, { exportRetention: 1 }))), days)
  })

  it('deletes at most maxDeletions, the oldest first', () => {
    assert.deepEqual(
      ids(expiredBackups(deltas(days), { ...run(t0 + 5 * DAY, { exportRetention: 1 }), maxDeletions: 2 })),
      days.slice(0, 2),
    )
    assert.deepEqual(ids(expiredBackups(deltas(days), { ...run(t0 + 5 * DAY), maxDeletions: 0 })), [])
  })

  it('keeps long-term buckets counted in the timezone, this run included', () => {
    const day1 = Date.UTC(2026, 2, 10)
    const a = day1 + 22.5 * HOUR // 23:30 in Paris, the same day
    const b = day1 + 23.5 * HOUR // 00:30 in Paris, the next day
    const now = day1 + 36 * HOUR // the next day everywhere
    const older = [day1 - 2 * DAY, day1 - DAY]
    const policy = (timezone: string) =>
      run(now, { exportRetention: 1, longTermRetention: { daily: { retention: 2 } }, timezone })
    const backups = deltas([...older, a, b])
    // UTC: day 1 holds a and b (its oldest, a, is kept), day 2 holds this run; b and older days go.
    assert.deepEqual(ids(expiredBackups(backups, policy('UTC'))), [...older, b])
    // Paris: a alone on day 1, b is the oldest of day 2 (with this run): both kept.
    assert.deepEqual(ids(expiredBackups(backups, policy('Europe/Paris'))), older)
  })
})
