import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseRunDescription } from './run-description.ts'
import { explainSettings, formatSettingValue, renderSettingsExplanation } from './settings-explanation.ts'

const VM1 = '11111111-2222-4333-8444-555555555555'
const VM2 = '22222222-2222-4333-8444-555555555555'
const STALE = '33333333-2222-4333-8444-555555555555'

const { description } = parseRunDescription(
  `
job:
  id: 0b7e5a3c-0000-4000-8000-000000000001
  mode: delta
  remotes: {id: {__or: [nas, s3]}}
  vms: {tags: [prod]}
  settings:
    '': {exportRetention: 7, timezone: Europe/Paris, concurrency: 3}
    daily: {longTermRetention: {weekly: {retention: 4, settings: {firstDayOfWeek: 1}}}, timeout: 2h}
    nas: {exportRetention: 14}
    ${VM1}: {snapshotRetention: 2}
    ${STALE}: {snapshotRetention: 9}
schedule: {id: daily}
remotes: {nas: {url: 'file:///srv'}, s3: {url: {env: S3_URL}}}
xapis: {pool1: {url: 'https://pool1', credentials: {username: root, password: {env: XAPI_PASSWORD}}}}
`,
  'job.yaml',
)

describe('explainSettings', () => {
  const explanation = explainSettings(description.job, 'daily', [VM1, VM2])
  it('gives each VM its settings per target, with provenance', () => {
    assert.deepEqual(
      explanation.vms.map((vm) => [
        vm.vmId,
        vm.settings.values.snapshotRetention,
        vm.settings.sources.snapshotRetention,
      ]),
      [
        [VM1, 2, 'vm'],
        [VM2, 0, 'default'],
      ],
    )
    assert.deepEqual(
      explanation.vms[0]?.targets.map((t) => [
        t.kind,
        t.id,
        t.settings.values.exportRetention,
        t.settings.sources.exportRetention,
      ]),
      [
        ['remote', 'nas', 14, 'target'],
        ['remote', 's3', 7, 'job'],
      ],
    )
    assert.equal(explanation.job.values.timeout, 7_200_000)
    assert.equal(explanation.job.sources.timeout, 'schedule')
  })
  it('lists VM blocks that match no VM of the run', () => {
    assert.deepEqual(explanation.unusedKeys, [STALE])
  })
})

describe('renderSettingsExplanation', () => {
  it('shows the changed settings, one line each, sources aligned', () => {
    const text = renderSettingsExplanation(explainSettings(description.job, 'daily', [VM1]), {
      changedOnly: true,
    })
    assert.equal(
      text,
      [
        'job-wide (schedule daily):',
        '  concurrency                  3                 job',
        '  timeout                      2 h               schedule',
        `VM ${VM1}:`,
        '  snapshotRetention            2                 vm',
        '  to remote nas:',
        '    exportRetention            14                target',
        '    longTermRetention          weekly 4 (firstDayOfWeek 1)  schedule',
        '    timezone                   Europe/Paris      job',
        '  to remote s3:',
        '    exportRetention            7                 job',
        '    longTermRetention          weekly 4 (firstDayOfWeek 1)  schedule',
        '    timezone                   Europe/Paris      job',
        `note: settings['${STALE}'] matches no VM of this run; its settings were not used`,
        '',
      ].join('\n'),
    )
  })
  it('shows every setting by default, defaults included', () => {
    const text = renderSettingsExplanation(explainSettings(description.job, 'daily', [VM1]))
    assert.match(text, /^ {2}reportWhen +failure +default$/m)
    assert.match(text, /^ {4}maxMergedDeltasPerRun +unlimited +default$/m)
    assert.match(text, /^ {2}healthCheckSr +\(unset\) +default$/m)
  })
})

describe('formatSettingValue', () => {
  const cases: [Parameters<typeof formatSettingValue>[0], unknown, string][] = [
    ['timeout', 0, '0 (none)'],
    ['healthCheckTimeout', 600_000, '10 min'],
    ['maxMergedDeltasPerRun', Infinity, 'unlimited'],
    ['exportRetention', 3, '3'],
    ['healthCheckVmsWithTags', ['a', 'b'], 'a, b'],
    ['reportRecipients', [], '[]'],
    ['longTermRetention', {}, '(none)'],
    [
      'longTermRetention',
      { daily: { retention: 7 }, yearly: { retention: 1, settings: { firstDayOfYear: 2 } } },
      'daily 7, yearly 1 (firstDayOfYear 2)',
    ],
    ['offlineBackup', true, 'true'],
  ]
  for (const [name, value, text] of cases)
    it(`${name} ${JSON.stringify(value)} → ${text}`, () => {
      assert.equal(formatSettingValue(name, value as never), text)
    })
})
