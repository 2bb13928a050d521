import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createManualClock, type ManualClock } from '../simulator/testing/manual-clock.ts'
import type { ScheduleRecord } from './model.ts'
import {
  checkCron,
  createScheduler,
  MISSED_COUNT_LIMIT,
  type MissedRuns,
  type SchedulerDeps,
} from './scheduler.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const iso = (ms: number): string => new Date(ms).toISOString()

function schedule(overrides: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    id: 's1',
    jobId: 'j1',
    name: 'every minute',
    cron: '* * * * *',
    timezone: 'UTC',
    enabled: true,
    settings: {},
    createdAt: 0,
    updatedAt: 0,
    ...overrides,
  }
}

interface Harness {
  readonly clock: ManualClock
  readonly schedules: ScheduleRecord[]
  readonly checkpoints: Map<string, number>
  readonly triggers: string[]
  readonly missed: { id: string; missed: MissedRuns }[]
  readonly errors: unknown[]
  readonly deps: SchedulerDeps
}

function harness(startMs: number, schedules: ScheduleRecord[], extra: Partial<SchedulerDeps> = {}): Harness {
  const clock = createManualClock(startMs)
  const checkpoints = new Map<string, number>()
  const triggers: string[] = []
  const missed: { id: string; missed: MissedRuns }[] = []
  const errors: unknown[] = []
  const deps: SchedulerDeps = {
    clock,
    listSchedules: () => schedules,
    getCheckpoint: (id) => checkpoints.get(id),
    setCheckpoint: (id, atMs) => checkpoints.set(id, atMs),
    trigger: (s, dueAtMs) => triggers.push(`${s.id} ${iso(dueAtMs)}`),
    reportMissed: (s, m) => missed.push({ id: s.id, missed: m }),
    onError: (error) => errors.push(error),
    ...extra,
  }
  return { clock, schedules, checkpoints, triggers, missed, errors, deps }
}

/** Lets the loop run until it sleeps again (it only waits on microtasks between sleeps). */
async function settle(clock: ManualClock): Promise<void> {
  for (let i = 0; i < 20 && clock.sleepers === 0; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** Moves time by `ms` in steps no longer than the scheduler's sleeps, letting it wake at each. */
async function advance(clock: ManualClock, ms: number, stepMs = 10_000): Promise<void> {
  for (let left = ms; left > 0; left -= stepMs) {
    clock.advance(Math.min(stepMs, left))
    await settle(clock)
  }
}

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0)

describe('createScheduler', () => {
  it(
    'an every-minute schedule triggers once at each minute with that minute as dueAt',
    { timeout: 10_000 },
    async () => {
      const h = harness(T0 + 30_000, [schedule({ createdAt: T0 + 30_000, updatedAt: T0 + 30_000 })])
      const scheduler = createScheduler(h.deps)
      scheduler.start()
      await settle(h.clock)
      await advance(h.clock, 5 * MINUTE)
      await scheduler.stop()
      assert.deepEqual(
        h.triggers,
        [1, 2, 3, 4, 5].map((m) => `s1 ${iso(T0 + m * MINUTE)}`),
      )
      assert.deepEqual(h.missed, [])
      assert.deepEqual(h.errors, [])
      assert.equal(h.checkpoints.get('s1'), T0 + 5 * MINUTE, 'checkpoint = last due time')
    },
  )

  it(
    'follows the time zone across DST changes, never twice in a repeated hour',
    { timeout: 20_000 },
    async () => {
      const start = Date.UTC(2026, 2, 27, 12)
      const h = harness(start, [
        schedule({ id: 'paris', cron: '0 3 * * *', timezone: 'Europe/Paris', createdAt: start }),
        schedule({ id: 'utc', cron: '0 3 * * *', timezone: 'UTC', createdAt: start }),
      ])
      const scheduler = createScheduler(h.deps)
      scheduler.start()
      await settle(h.clock)
      await advance(h.clock, 3 * DAY, MINUTE)
      const paris = h.triggers.filter((t) => t.startsWith('paris'))
      // CET (UTC+1) on the 28th, CEST (UTC+2) from the 29th.
      assert.deepEqual(paris, [
        'paris 2026-03-28T02:00:00.000Z',
        'paris 2026-03-29T01:00:00.000Z',
        'paris 2026-03-30T01:00:00.000Z',
      ])
      assert.deepEqual(
        h.triggers.filter((t) => t.startsWith('utc')),
        ['utc 2026-03-28T03:00:00.000Z', 'utc 2026-03-29T03:00:00.000Z', 'utc 2026-03-30T03:00:00.000Z'],
      )
      h.schedules.splice(
        0,
        2,
        schedule({ id: 'fall', cron: '30 2 * * *', timezone: 'Europe/Paris', createdAt: h.clock.now() }),
      )
      h.triggers.length = 0
      scheduler.reload()
      await settle(h.clock)
      // 2026-10-25: 02:00-03:00 local happens twice; 02:30 runs at its first occurrence only.
      await advance(h.clock, Date.UTC(2026, 9, 24, 12) - h.clock.now(), HOUR)
      h.triggers.length = 0
      await advance(h.clock, 2 * DAY, MINUTE)
      await scheduler.stop()
      assert.deepEqual(h.triggers, ['fall 2026-10-25T00:30:00.000Z', 'fall 2026-10-26T01:30:00.000Z'])
    },
  )

  it(
    'reports the runs missed while down, runs the one just due, and moves the checkpoint',
    { timeout: 10_000 },
    async () => {
      const h = harness(T0 + HOUR + 30_000, [schedule()])
      h.checkpoints.set('s1', T0)
      const scheduler = createScheduler(h.deps)
      scheduler.start()
      await settle(h.clock)
      await scheduler.stop()
      assert.deepEqual(
        h.triggers,
        [`s1 ${iso(T0 + HOUR)}`],
        'the occurrence 30 s ago is within the grace: it runs',
      )
      assert.equal(h.missed.length, 1)
      const missed = h.missed[0]?.missed
      assert.equal(missed?.count, 59)
      assert.equal(missed.countIsExact, true)
      const minutes = [...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], ...[50, 51, 52, 53, 54, 55, 56, 57, 58, 59]]
      assert.deepEqual(
        missed.dueAtMs.map(iso),
        minutes.map((m) => iso(T0 + m * MINUTE)),
      )
      assert.equal(h.checkpoints.get('s1'), T0 + HOUR)
    },
  )

  it(
    'reports every occurrence as missed when even the newest is past the grace',
    { timeout: 10_000 },
    async () => {
      const h = harness(T0 + 2 * DAY + 5 * HOUR, [schedule({ cron: '0 3 * * *' })])
      h.checkpoints.set('s1', T0)
      const scheduler = createScheduler(h.deps)
      scheduler.start()
      await settle(h.clock)
      await scheduler.stop()
      assert.deepEqual(h.triggers, [])
      assert.deepEqual(h.missed, [
        {
          id: 's1',
          missed: {
            count: 3,
            countIsExact: true,
            dueAtMs: [T0 + 3 * HOUR, T0 + DAY + 3 * HOUR, T0 + 2 * DAY + 3 * HOUR],
          },
        },
      ])
      assert.equal(h.checkpoints.get('s1'), T0 + 2 * DAY + 3 * HOUR)
    },
  )

  it(
    'bounds a year of every-minute misses: a lower-bound count and the first/last samples',
    { timeout: 20_000 },
    async () => {
      const now = T0 + 365 * DAY + 30_000
      const h = harness(now, [schedule()])
      h.checkpoints.set('s1', T0)
      const scheduler = createScheduler(h.deps)
      scheduler.start()
      await settle(h.clock)
      await scheduler.stop()
      const missed = h.missed[0]?.missed
      assert.ok(missed !== undefined, 'missed runs reported')
      assert.equal(missed.countIsExact, false)
      assert.ok(
        missed.count >= MISSED_COUNT_LIMIT && missed.count < MISSED_COUNT_LIMIT + 20,
        `count ${missed.count}`,
      )
      assert.ok(missed.dueAtMs.length <= 20, `${missed.dueAtMs.length} samples`)
      assert.equal(missed.dueAtMs[0], T0 + MINUTE, 'first sample: the first missed minute')
      assert.equal(
        missed.dueAtMs.at(-1),
        now - 30_000 - MINUTE,
        'last sample: the minute before the one that runs',
      )
      assert.deepEqual(h.triggers, [`s1 ${iso(now - 30_000)}`])
    },
  )

  it('a checkpoint survives a restart: no run twice, none missed', { timeout: 10_000 }, async () => {
    const h = harness(T0 + 30_000, [schedule({ createdAt: T0 })])
    const first = createScheduler(h.deps)
    first.start()
    await settle(h.clock)
    await advance(h.clock, 3 * MINUTE)
    await first.stop()
    const second = createScheduler(h.deps)
    second.start()
    await settle(h.clock)
    await advance(h.clock, MINUTE)
    await second.stop()
    assert.deepEqual(
      h.triggers,
      [1, 2, 3, 4].map((m) => `s1 ${iso(T0 + m * MINUTE)}`),
    )
    assert.deepEqual(h.missed, [])
  })

  it(
    'never triggers a disabled schedule, nor reports its disabled time once enabled',
    { timeout: 10_000 },
    async () => {
      const h = harness(T0 + 30_000, [schedule({ enabled: false })])
      h.checkpoints.set('s1', T0)
      const scheduler = createScheduler(h.deps)
      scheduler.start()
      await settle(h.clock)
      await advance(h.clock, 10 * MINUTE)
      assert.deepEqual(h.triggers, [])
      // Re-enabled without bumping updatedAt: the checkpoint moved while it was disabled.
      h.schedules[0] = schedule({ enabled: true })
      scheduler.reload()
      await settle(h.clock)
      await advance(h.clock, MINUTE)
      await scheduler.stop()
      assert.deepEqual(h.missed, [])
      assert.deepEqual(h.triggers, [`s1 ${iso(T0 + 11 * MINUTE)}`])
    },
  )

  it('reload picks up a new schedule without waiting for the long sleep', { timeout: 10_000 }, async () => {
    const h = harness(T0 + 30_000, [], { maxSleepMs: DAY })
    const scheduler = createScheduler(h.deps)
    scheduler.start()
    await settle(h.clock)
    h.schedules.push(schedule({ createdAt: T0 + 30_000, updatedAt: T0 + 30_000 }))
    scheduler.reload()
    await settle(h.clock)
    await advance(h.clock, 30_000)
    await scheduler.stop()
    assert.deepEqual(h.triggers, [`s1 ${iso(T0 + MINUTE)}`])
    assert.deepEqual(h.missed, [], 'nothing before the schedule existed is missed')
  })

  it(
    'a cron edit does not report the new cron occurrences before the edit',
    { timeout: 10_000 },
    async () => {
      const h = harness(T0 + 10 * HOUR, [schedule({ cron: '0 3 * * *' })])
      h.checkpoints.set('s1', T0 + 3 * HOUR)
      const scheduler = createScheduler(h.deps)
      scheduler.start()
      await settle(h.clock)
      h.schedules[0] = schedule({ cron: '0 * * * *', updatedAt: h.clock.now() })
      scheduler.reload()
      await settle(h.clock)
      await advance(h.clock, HOUR)
      await scheduler.stop()
      assert.deepEqual(h.missed, [])
      assert.deepEqual(h.triggers, [`s1 ${iso(T0 + 11 * HOUR)}`])
    },
  )

  it(
    'stop ends the loop promptly and for good; stop before start resolves',
    { timeout: 10_000 },
    async () => {
      const h = harness(T0, [schedule({ createdAt: T0 })])
      await createScheduler(h.deps).stop()
      const scheduler = createScheduler(h.deps)
      scheduler.start()
      await settle(h.clock)
      assert.equal(h.clock.sleepers, 1, 'the loop sleeps')
      let timer: NodeJS.Timeout | undefined
      const guard = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error('stop() hung'))
        }, 5000)
      })
      await Promise.race([scheduler.stop(), guard]).finally(() => {
        clearTimeout(timer)
      })
      assert.equal(h.clock.sleepers, 0, 'its sleep was aborted')
      await advance(h.clock, 5 * MINUTE)
      assert.deepEqual(h.triggers, [], 'nothing runs after stop')
    },
  )

  it(
    'errors of trigger, listSchedules and a bad stored cron go to onError; the loop goes on',
    { timeout: 10_000 },
    async () => {
      let triggers = 0
      let lists = 0
      const h = harness(
        T0 + 30_000,
        [schedule({ createdAt: T0 }), schedule({ id: 'bad', cron: '61 * * * *' })],
        {
          trigger: () => {
            triggers++
            if (triggers === 1) throw new Error('run service down')
          },
        },
      )
      const list = h.deps.listSchedules.bind(h.deps)
      const scheduler = createScheduler({
        ...h.deps,
        listSchedules: () => {
          lists++
          if (lists === 3) throw new Error('store busy')
          return list()
        },
      })
      scheduler.start()
      await settle(h.clock)
      await advance(h.clock, 5 * MINUTE)
      await scheduler.stop()
      assert.ok(triggers >= 4, `the loop survived a throwing trigger (${triggers} triggers)`)
      const messages = h.errors.map((e) => (e instanceof Error ? e.message : String(e)))
      assert.equal(messages.filter((m) => m === 'run service down').length, 1, messages.join('\n'))
      assert.equal(messages.filter((m) => m === 'store busy').length, 1, messages.join('\n'))
      assert.equal(
        messages.filter((m) => m.startsWith('schedule bad:')).length,
        1,
        'a bad cron is reported once',
      )
    },
  )
})

describe('checkCron', () => {
  const now = Date.UTC(2026, 2, 28, 12)

  it('accepts 5 or 6 fields and nicknames, with the next occurrence in the time zone', () => {
    assert.deepEqual(checkCron('0 3 * * *', 'Europe/Paris', now), {
      ok: true,
      next: Date.UTC(2026, 2, 29, 1),
    })
    assert.deepEqual(checkCron('30 0 3 * * *', 'UTC', now), {
      ok: true,
      next: Date.UTC(2026, 2, 29, 3, 0, 30),
    })
    assert.deepEqual(checkCron('@daily', 'UTC', now), { ok: true, next: Date.UTC(2026, 2, 29) })
  })

  it('names the field and says why in one line', () => {
    const bad = checkCron('61 * * * *', 'UTC', now)
    assert.equal(bad.ok, false)
    assert.equal(bad.path, 'cron')
    assert.match(bad.message, /^cron: "61 \* \* \* \*" is not a valid cron expression: .*minute.*$/)
    const seven = checkCron('0 0 3 * * * 2027', 'UTC', now)
    assert.ok(!seven.ok && seven.path === 'cron' && seven.message.includes('5 or 6'), JSON.stringify(seven))
    assert.deepEqual(checkCron('* * * * *', 'Mars/Olympus', now), {
      ok: false,
      path: 'timezone',
      message: 'timezone: "Mars/Olympus" is not an IANA time zone',
    })
    assert.ok(!checkCron('* * * * *', '', now).ok, 'an empty time zone is refused')
    assert.deepEqual(checkCron('0 0 30 2 *', 'UTC', now), {
      ok: false,
      path: 'cron',
      message: 'cron: "0 0 30 2 *" never occurs',
    })
    for (const result of [bad, seven]) assert.ok(!result.message.includes('\n'), 'one line')
  })
})
