import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { RetentionEntry, RetentionPolicy } from './retention.ts'
import { periodKey, planRetention } from './retention.ts'

// The cases of XO's retention tests (xen-orchestra-backups.md §10), written as our own tables:
// [times (UTC, oldest first), policy, ids deleted]. Entry ids are 1-based positions.
const at = (text: string): number => Date.parse(`${text.replace(' ', 'T')}Z`)
const entriesOf = (times: readonly string[]): RetentionEntry[] =>
  times.map((t, i) => ({ id: String(i + 1), timestamp: at(t) }))
const deletedIds = (times: readonly string[], policy: RetentionPolicy): number[] =>
  planRetention(entriesOf(times), policy).delete.map((e) => Number(e.id))

const cases: { label: string; times: string[]; policy: RetentionPolicy; deleted: number[] }[] = [
  {
    label: 'count only',
    times: ['1970-01-01 00:00:01', '1970-01-01 00:00:02', '1970-01-01 00:00:03'],
    policy: { minCount: 1 },
    deleted: [1, 2],
  },
  {
    label: 'daily: the oldest backup of each of the last 3 days with one',
    times: [
      '2024-09-01 00:00:00',
      '2024-09-01 00:01:00',
      '2024-09-02 00:09:00',
      '2024-09-02 00:10:00',
      '2024-09-03 00:09:00',
      '2024-09-04 00:09:00',
      '2024-09-04 00:10:00',
    ],
    policy: { minCount: 0, longTermRetention: { daily: { retention: 3 } }, timezone: 'Europe/Paris' },
    deleted: [1, 2, 4, 7],
  },
  {
    label: 'weekly: weeks start on Sunday',
    times: [
      '2024-08-30 00:01:00',
      '2024-08-31 00:00:00',
      '2024-09-03 00:09:00',
      '2024-09-04 00:09:00',
      '2024-09-05 00:09:00',
      '2024-09-06 00:09:00',
      '2024-09-07 00:09:00',
      '2024-09-15 00:09:00',
      '2024-09-21 00:09:00',
      '2024-09-22 00:09:00',
    ],
    policy: { minCount: 0, longTermRetention: { weekly: { retention: 3 } }, timezone: 'Europe/Paris' },
    deleted: [1, 2, 4, 5, 6, 7, 9],
  },
  {
    label: 'monthly',
    times: [
      '2024-06-22 00:09:00',
      '2024-07-31 00:09:00',
      '2024-08-01 00:09:00',
      '2024-08-05 00:09:00',
      '2024-08-07 00:09:00',
      '2024-09-09 00:09:00',
      '2024-09-15 00:09:00',
      '2024-09-22 00:09:00',
    ],
    policy: { minCount: 0, longTermRetention: { monthly: { retention: 3 } }, timezone: 'Europe/Paris' },
    deleted: [1, 4, 5, 7, 8],
  },
  {
    label: 'all periods with a minimum count',
    times: [
      '2023-05-18 00:09:00',
      '2024-06-15 00:09:00',
      '2024-07-04 00:09:00',
      '2024-08-12 00:09:00',
      '2024-09-05 00:09:00',
      '2024-10-02 00:09:00',
      '2024-11-01 00:09:00',
      '2024-12-17 00:09:00',
      '2024-12-24 00:09:00',
      '2025-01-01 00:09:00',
      '2025-01-02 00:10:00',
      '2025-12-31 00:09:00',
      '2025-12-31 10:09:00',
    ],
    policy: {
      minCount: 2,
      longTermRetention: {
        daily: { retention: 2 },
        weekly: { retention: 4 },
        monthly: { retention: 5 },
        yearly: { retention: 2 },
      },
      timezone: 'Europe/Paris',
    },
    deleted: [1, 3, 4, 5],
  },
  {
    label: 'days are counted in the timezone (Auckland, UTC+12)',
    times: [
      '2024-08-31 09:01:00',
      '2024-09-01 00:10:00',
      '2024-09-01 14:20:00',
      '2024-09-02 00:22:00',
      '2024-09-03 14:00:00',
      '2024-09-04 00:09:00',
      '2024-09-04 00:10:00',
    ],
    policy: { minCount: 0, longTermRetention: { daily: { retention: 3 } }, timezone: 'Pacific/Auckland' },
    deleted: [1, 4, 6, 7],
  },
]

describe('planRetention', () => {
  for (const c of cases) {
    it(c.label, () => {
      assert.deepEqual(deletedIds(c.times, c.policy), c.deleted)
    })
  }

  it('gives every reason an entry is kept', () => {
    const times = ['2024-09-01 10:00:00', '2024-09-02 10:00:00', '2024-09-02 11:00:00']
    const plan = planRetention(entriesOf(times), {
      minCount: 1,
      longTermRetention: { daily: { retention: 2 }, monthly: { retention: 1 } },
      timezone: 'UTC',
    })
    assert.deepEqual(
      plan.keep.map((k) => [k.entry.id, k.reasons]),
      [
        ['1', ['daily 2024-09-01', 'monthly 2024-09']],
        ['2', ['daily 2024-09-02']],
        ['3', ['one of the 1 most recent']],
      ],
    )
    assert.deepEqual(plan.delete, [])
  })

  it('moves period starts with their settings', () => {
    // 02:00 UTC belongs to the previous day when days start at 03:00.
    assert.equal(
      periodKey('daily', at('2024-09-02 02:00:00'), 'UTC', {
        retention: 1,
        settings: { firstHourOfTheDay: 3 },
      }),
      '2024-09-01',
    )
    // Weeks starting on Monday: Sunday 2024-09-08 belongs to the week of Monday 2024-09-02.
    assert.equal(
      periodKey('weekly', at('2024-09-08 12:00:00'), 'UTC', {
        retention: 1,
        settings: { firstDayOfWeek: 1 },
      }),
      'week of 2024-09-01',
    )
    assert.equal(periodKey('weekly', at('2024-09-08 12:00:00'), 'UTC'), 'week of 2024-09-08')
    assert.equal(
      periodKey('monthly', at('2024-09-04 12:00:00'), 'UTC', {
        retention: 1,
        settings: { firstDayOfMonth: 5 },
      }),
      '2024-08',
    )
    assert.equal(
      periodKey('yearly', at('2025-01-15 12:00:00'), 'UTC', {
        retention: 1,
        settings: { firstDayOfYear: 32 },
      }),
      '2024',
    )
  })

  it('rejects invalid policies and unsorted entries with a clear error', () => {
    const sorted = entriesOf(['2024-09-01 00:00:00', '2024-09-02 00:00:00'])
    const bad: [RetentionEntry[], RetentionPolicy, RegExp][] = [
      [sorted, { minCount: -1 }, /minCount: expected an integer >= 0, got -1/],
      [sorted, { minCount: 1.5 }, /minCount/],
      [
        sorted,
        { minCount: 0, longTermRetention: { hourly: { retention: 3 } } as never, timezone: 'UTC' },
        /unknown period "hourly"/,
      ],
      [
        sorted,
        { minCount: 0, longTermRetention: { daily: { retention: 0 } }, timezone: 'UTC' },
        /daily\.retention: expected an integer >= 1, got 0/,
      ],
      [sorted, { minCount: 0, longTermRetention: { daily: { retention: 2 } } }, /needs a timezone/],
      [
        sorted,
        { minCount: 0, longTermRetention: { daily: { retention: 2 } }, timezone: 'Mars/Olympus' },
        /unknown timezone "Mars\/Olympus"/,
      ],
      [[...sorted].reverse(), { minCount: 1 }, /strictly increasing timestamp: 2 then 1/],
      [[{ id: 'x', timestamp: Number.NaN }], { minCount: 1 }, /entry x: timestamp is not a number/],
    ]
    for (const [entries, policy, message] of bad) {
      assert.throws(
        () => planRetention(entries, policy),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'RETENTION_INVALID')
          assert.match(e.message, message)
          return true
        },
      )
    }
  })

  it('keeps everything when there are fewer entries than the count, and nothing with count 0', () => {
    const entries = entriesOf(['2024-09-01 00:00:00'])
    assert.deepEqual(planRetention(entries, { minCount: 5 }).delete, [])
    assert.deepEqual(planRetention(entries, { minCount: 0 }).delete, entries)
  })
})
