import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatDuration, parseDuration } from './duration.ts'
import type { RunDescriptionWarning } from './run-description-error.ts'
import { RunDescriptionError } from './run-description-error.ts'
import type { SettingsKeyContext } from './settings.ts'
import { checkSettings, closestSettingName, resolveSettings } from './settings.ts'
import { SETTING_NAMES, defaultSettings } from './settings-schema.ts'

const VM = '11111111-2222-4333-8444-555555555555'
const VM2 = '22222222-2222-4333-8444-555555555555'
const context: SettingsKeyContext = { scheduleId: 'daily', remoteIds: ['nas'], srIds: [], vmIds: [VM, VM2] }

const check = (settings: unknown, ctx: SettingsKeyContext = context) => {
  const warnings: RunDescriptionWarning[] = []
  const blocks = checkSettings(settings, ['job', 'settings'], ctx, warnings)
  return { blocks, warnings: warnings.map((w) => w.message) }
}
const invalid = (message: string) => (e: unknown) =>
  e instanceof RunDescriptionError && e.code === 'RUN_DESCRIPTION_INVALID' && e.message === message

describe('defaults (xen-orchestra-backups.md §1.2)', () => {
  it("are XO's", () => {
    const d = defaultSettings()
    assert.deepEqual(
      {
        reportWhen: d.reportWhen,
        getRemoteTimeout: d.getRemoteTimeout,
        concurrency: d.concurrency,
        copyRetention: d.copyRetention,
        exportRetention: d.exportRetention,
        snapshotRetention: d.snapshotRetention,
        fullInterval: d.fullInterval,
        maxMergedDeltasPerRun: d.maxMergedDeltasPerRun,
        nbdConcurrency: d.nbdConcurrency,
        healthCheckTimeout: d.healthCheckTimeout,
        timeout: d.timeout,
        vmTimeout: d.vmTimeout,
        longTermRetention: d.longTermRetention,
        timezone: d.timezone,
      },
      {
        reportWhen: 'failure',
        getRemoteTimeout: 300_000,
        concurrency: 2,
        copyRetention: 0,
        exportRetention: 0,
        snapshotRetention: 0,
        fullInterval: 0,
        maxMergedDeltasPerRun: Infinity,
        nbdConcurrency: 1,
        healthCheckTimeout: 600_000,
        timeout: 0,
        vmTimeout: 0,
        longTermRetention: undefined,
        timezone: undefined,
      },
    )
  })
  it('cover every setting', () => {
    assert.deepEqual(Object.keys(defaultSettings()), SETTING_NAMES)
  })
})

describe('resolveSettings: job → schedule → VM → target, with provenance', () => {
  const { blocks } = check({
    '': { exportRetention: 1, fullInterval: 10, snapshotRetention: 1, concurrency: 4 },
    daily: { exportRetention: 2, fullInterval: 20 },
    [VM]: { exportRetention: 3, snapshotRetention: 5, concurrency: 9 },
    nas: { exportRetention: 4, fullInterval: 99 },
  })
  // [point, setting, value, source]
  const cases: [
    object,
    'exportRetention' | 'fullInterval' | 'snapshotRetention' | 'concurrency' | 'copyRetention',
    number,
    string,
  ][] = [
    [{}, 'exportRetention', 2, 'schedule'],
    [{}, 'snapshotRetention', 1, 'job'],
    [{}, 'copyRetention', 0, 'default'],
    [{ vmId: VM }, 'exportRetention', 3, 'vm'],
    [{ vmId: VM2 }, 'exportRetention', 2, 'schedule'],
    [{ vmId: VM, targetId: 'nas' }, 'exportRetention', 4, 'target'],
    [{ vmId: VM2, targetId: 'nas' }, 'exportRetention', 4, 'target'],
    [{ vmId: VM }, 'snapshotRetention', 5, 'vm'],
    // Scopes: fullInterval is read per VM, so a target's value has no effect; concurrency is job-wide.
    [{ vmId: VM, targetId: 'nas' }, 'fullInterval', 20, 'schedule'],
    [{ vmId: VM, targetId: 'nas' }, 'concurrency', 4, 'job'],
  ]
  for (const [point, name, value, source] of cases)
    it(`${JSON.stringify(point)} ${name} = ${value} from ${source}`, () => {
      const effective = resolveSettings(blocks, { scheduleId: 'daily', ...point })
      assert.equal(effective.values[name], value)
      assert.equal(effective.sources[name], source)
    })

  it('a VM key equal to nothing asked for is not used', () => {
    assert.equal(resolveSettings(blocks, { scheduleId: 'weekly' }).values.exportRetention, 1)
  })
  it('does not mutate its input', () => {
    const before = JSON.stringify([...blocks])
    resolveSettings(blocks, { scheduleId: 'daily', vmId: VM, targetId: 'nas' })
    assert.equal(JSON.stringify([...blocks]), before)
  })
})

describe('checkSettings', () => {
  it('parses durations, LTR and enumerations into typed values', () => {
    const { blocks } = check({
      '': {
        timeout: '2h',
        vmTimeout: 90_000,
        healthCheckTimeout: '1.5 min',
        reportWhen: 'Never',
        timezone: 'Europe/Paris',
        longTermRetention: {
          daily: { retention: 7, settings: { firstHourOfTheDay: 3 } },
          weekly: { retention: 0 },
        },
      },
    })
    const values = resolveSettings(blocks, { scheduleId: 'daily' }).values
    assert.equal(values.timeout, 7_200_000)
    assert.equal(values.vmTimeout, 90_000)
    assert.equal(values.healthCheckTimeout, 90_000)
    assert.equal(values.reportWhen, 'never')
    // A period with retention 0 keeps nothing: it is dropped, as if absent.
    assert.deepEqual(values.longTermRetention, {
      daily: { retention: 7, settings: { firstHourOfTheDay: 3 } },
    })
  })

  it('warns about unknown settings, with the closest known name', () => {
    const { warnings } = check({ '': { exportRetenton: 3, useNbd: true, frobnicate: 1 } })
    assert.deepEqual(warnings, [
      "job.settings[''].exportRetenton: unknown setting, ignored (did you mean exportRetention?)",
      "job.settings[''].useNbd: unknown setting, ignored (declared by XO but never read; use preferNbd)",
      "job.settings[''].frobnicate: unknown setting, ignored (XO ignores it too)",
    ])
  })

  it('warns about a setting set where the engine does not read it', () => {
    const { warnings } = check({
      [VM]: { concurrency: 1 },
      nas: { snapshotRetention: 1, exportRetention: 3 },
    })
    assert.deepEqual(warnings, [
      `job.settings['${VM}'].concurrency: has no effect per VM; concurrency is read from the job's or the schedule's settings`,
      "job.settings.nas.snapshotRetention: has no effect per target; snapshotRetention is read from the job's or the schedule's settings or a VM",
    ])
  })

  it('in smart mode a uuid key is taken as a VM, other unknown keys as other schedules (with a warning)', () => {
    const smart = { ...context, vmIds: undefined }
    assert.equal(check({ [VM]: { snapshotRetention: 1 } }, smart).blocks.get(VM)?.level, 'vm')
    const typo = check({ dialy: {} }, smart)
    assert.equal(typo.blocks.get('dialy')?.level, 'otherSchedule')
    assert.match(
      typo.warnings[0] ?? '',
      /job\.settings\.dialy: names no VM, target or this run's schedule 'daily'/,
    )
  })

  it('with explicit VMs a uuid key that is none of them is taken as another schedule', () => {
    const other = '33333333-2222-4333-8444-555555555555'
    assert.equal(check({ [other]: {} }).blocks.get(other)?.level, 'otherSchedule')
  })

  const wrong: [unknown, string][] = [
    [
      [],
      "job.settings: expected an object of setting blocks keyed by '', schedule, VM or target ids, got an array",
    ],
    [{ '': 3 }, "job.settings['']: expected an object of settings, got 3"],
    [
      { '': { exportRetention: '3' } },
      `job.settings[''].exportRetention: expected a non-negative integer, got "3"`,
    ],
    [
      { '': { exportRetention: 1.5 } },
      "job.settings[''].exportRetention: expected a non-negative integer, got 1.5",
    ],
    [{ '': { nbdConcurrency: 0 } }, "job.settings[''].nbdConcurrency: expected an integer >= 1, got 0"],
    [
      { '': { maxMergedDeltasPerRun: 0 } },
      "job.settings[''].maxMergedDeltasPerRun: expected an integer >= 1, got 0",
    ],
    [{ '': { offlineBackup: 'yes' } }, `job.settings[''].offlineBackup: expected true or false, got "yes"`],
    [{ '': { maxExportRate: -1 } }, "job.settings[''].maxExportRate: expected a non-negative number, got -1"],
    [
      { '': { reportWhen: 'sometimes' } },
      `job.settings[''].reportWhen: expected 'always', 'failure', 'error' or 'never', got "sometimes"`,
    ],
    [{ '': { healthCheckSr: 'sr1' } }, `job.settings[''].healthCheckSr: expected an SR uuid, got "sr1"`],
    [
      { '': { healthCheckVmsWithTags: 'a' } },
      `job.settings[''].healthCheckVmsWithTags: expected an array of strings, got "a"`,
    ],
    [
      { '': { vmTimeout: -5 } },
      `job.settings[''].vmTimeout: expected a duration: milliseconds (a number) or a string like '90s', '10m', '2h', '1d', got -5`,
    ],
    [
      { '': { longTermRetention: [] } },
      "job.settings[''].longTermRetention: expected an object of periods (daily, weekly, monthly, yearly), got an array",
    ],
    [
      { '': { longTermRetention: { daily: 7 } } },
      "job.settings[''].longTermRetention.daily: expected {retention: n}, got 7",
    ],
    [
      { '': { longTermRetention: { daily: { retention: -1 } } } },
      "job.settings[''].longTermRetention.daily.retention: expected a non-negative integer, got -1",
    ],
    [
      { '': { longTermRetention: { daily: { retention: 1, keep: 1 } } } },
      "job.settings[''].longTermRetention.daily.keep: expected retention or settings, got an unknown field",
    ],
    [
      { '': { longTermRetention: { weekly: { retention: 1, settings: { firstDayOfWeek: 7 } } } } },
      "job.settings[''].longTermRetention.weekly.settings.firstDayOfWeek: expected an integer from 0 to 6, got 7",
    ],
    [
      { '': { longTermRetention: { monthly: { retention: 1, settings: { firstDayOfWeek: 1 } } } } },
      "job.settings[''].longTermRetention.monthly.settings.firstDayOfWeek: expected firstDayOfMonth (the only setting of monthly), got another field",
    ],
  ]
  for (const [settings, message] of wrong)
    it(message, () => {
      assert.throws(() => check(settings), invalid(message))
    })
})

describe('resolveSettings: contradictions', () => {
  it('long-term retention on a target, timezone nowhere', () => {
    const { blocks } = check({ nas: { longTermRetention: { yearly: { retention: 2 } } } })
    assert.doesNotThrow(() => resolveSettings(blocks, { scheduleId: 'daily' }))
    assert.throws(
      () => resolveSettings(blocks, { scheduleId: 'daily', targetId: 'nas' }),
      invalid(
        "job.settings.nas.longTermRetention: expected a timezone with long-term retention (set timezone, e.g. in settings['']), got no timezone",
      ),
    )
  })
  it('long-term retention with a timezone from a more general block', () => {
    const { blocks } = check({
      '': { timezone: 'UTC' },
      nas: { longTermRetention: { yearly: { retention: 2 } } },
    })
    assert.equal(resolveSettings(blocks, { scheduleId: 'daily', targetId: 'nas' }).values.timezone, 'UTC')
  })
})

describe('closestSettingName', () => {
  for (const [typo, expected] of [
    ['exportRetenton', 'exportRetention'],
    ['ExportRetention', 'exportRetention'],
    ['concurency', 'concurrency'],
    ['retention', undefined],
    ['x', undefined],
  ] as const)
    it(`${typo} → ${String(expected)}`, () => {
      assert.equal(closestSettingName(typo), expected)
    })
})

describe('durations', () => {
  const valid: [unknown, number][] = [
    [0, 0],
    [1500, 1500],
    ['10m', 600_000],
    ['2 hours', 7_200_000],
    ['1.5h', 5_400_000],
    ['90s', 90_000],
    ['1d', 86_400_000],
    ['1w', 604_800_000],
    ['250', 250],
    [' 3 MIN ', 180_000],
    ['24d', 2_073_600_000],
  ]
  for (const [value, ms] of valid)
    it(`${JSON.stringify(value)} is ${ms} ms`, () => {
      assert.equal(parseDuration(value, ['t']), ms)
    })
  for (const value of ['', '10 fortnights', '-1s', '1y', 'h', true, null, Infinity, 2 ** 31, '25d'])
    it(`refuses ${String(value)}`, () => {
      assert.throws(() => parseDuration(value, ['t']), RunDescriptionError)
    })
  for (const [ms, text] of [
    [0, '0'],
    [1500, '1500 ms'],
    [90_000, '1 min 30 s'],
    [7_200_000, '2 h'],
    [108_000_000, '1 d 6 h'],
  ] as const)
    it(`formats ${ms} as ${text}`, () => {
      assert.equal(formatDuration(ms), text)
    })
})

describe("another schedule's block", () => {
  it('is kept as that schedule (XO keeps every schedule in job.settings), with a warning, and read only when asked for it', () => {
    const { blocks, warnings } = check({
      '': { snapshotRetention: 1 },
      daily: { snapshotRetention: 2 },
      weekly: { snapshotRetention: 5, exportRetention: 4 },
    })
    assert.equal(blocks.get('weekly')?.level, 'otherSchedule')
    assert.equal(warnings.length, 1)
    assert.match(
      warnings[0] ?? '',
      /job\.settings\.weekly: names no VM, target or this run's schedule 'daily'/,
    )
    assert.equal(resolveSettings(blocks, { scheduleId: 'daily' }).values.snapshotRetention, 2)
    const weekly = resolveSettings(blocks, { scheduleId: 'weekly' })
    assert.equal(weekly.values.snapshotRetention, 5)
    assert.equal(weekly.sources.snapshotRetention, 'schedule')
    assert.equal(resolveSettings(blocks, { scheduleId: 'monthly' }).values.snapshotRetention, 1)
  })
})
