import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  formatBackupTimestamp,
  formatXapiDateTime,
  parseBackupTimestamp,
  parseXapiDateTime,
} from './timestamps.ts'

const t = Date.UTC(2026, 10, 27, 3, 4, 5)

describe('timestamps', () => {
  it('formats backup names and XAPI datetimes in UTC', () => {
    assert.equal(formatBackupTimestamp(t), '20261127T030405Z')
    assert.equal(formatXapiDateTime(t), '20261127T03:04:05Z')
    assert.equal(formatBackupTimestamp(0), '19700101T000000Z')
  })

  it('round-trips both forms', () => {
    assert.equal(parseBackupTimestamp(formatBackupTimestamp(t)), t)
    assert.equal(parseXapiDateTime(formatXapiDateTime(t)), t)
  })

  it("reads XO's older forms as UTC", () => {
    assert.equal(parseBackupTimestamp('20261127T030405'), t)
    assert.equal(parseBackupTimestamp('2026-11-27T03:04:05.000Z'), t)
    assert.equal(parseXapiDateTime('20261127T03:04:05'), t)
  })

  it('rejects garbage and impossible dates with a clear error', () => {
    for (const bad of [
      '',
      '2026',
      '20261127T030405Z.json',
      '../20261127T030405Z',
      '20260231T000000Z',
      '20261127T250000Z',
    ]) {
      assert.throws(
        () => parseBackupTimestamp(bad),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'INVALID_TIMESTAMP')
          assert.match(e.message, /backup timestamp/)
          return true
        },
      )
    }
    assert.throws(() => formatBackupTimestamp(Number.NaN), /not a valid time/)
  })
})
