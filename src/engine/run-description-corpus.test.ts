import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { BadDescription } from './testing/bad-descriptions.ts'
import {
  S3_SECRET,
  VM1,
  VM2,
  XAPI_SECRET,
  editedJson as json,
  testBadDescriptions,
} from './testing/bad-descriptions.ts'

// Content mistakes users make in a run description (the syntax ones are in
// description-syntax-corpus.test.ts), each with the one line they must get back; the runner also
// checks that no secret of the document reaches the message, details, JSON or inspect output.
const UNAVAILABLE = 'CREDENTIAL_UNAVAILABLE'
const cases: BadDescription[] = [
  {
    label: 'unknown mode',
    text: json((d) => (d.job.mode = 'incremental')),
    message: `job.json: job.mode: expected 'full' or 'delta', got "incremental"`,
  },
  {
    label: 'an IdPattern that is not an object',
    text: json((d) => (d.job.vms = VM1)),
    message: `job.json: job.vms: expected an IdPattern {id: …} or a smart pattern like {power_state: 'Running'}, got "${VM1}"`,
  },
  {
    label: '__or not an array',
    text: json((d) => (d.job.vms = { id: { __or: VM1 } })),
    message: `job.json: job.vms.id.__or: expected an array of id strings, got "${VM1}"`,
  },
  {
    label: 'a remote id with no entry in remotes',
    text: json((d) => (d.job.remotes = { id: { __or: ['nas', 'nsa'] } })),
    message: `job.json: job.remotes.id.__or[1]: expected a remote described in remotes (nas, s3), got "nsa", which has no entry there`,
  },
  {
    label: 'a remote URL with an unknown scheme (only the scheme is shown)',
    text: json((d) => (d.remotes.s3 = { url: `ftp://AKID:${S3_SECRET}@host/dir` })),
    message:
      'job.json: remotes.s3.url: expected a remote URL file://, nfs://, smb://, s3:// or s3+http://, got a URL with scheme "ftp" (rest hidden)',
  },
  {
    label: 'a remote URL without scheme',
    text: json((d) => (d.remotes.s3 = { url: `AKID:${S3_SECRET}@host/dir` })),
    message:
      'job.json: remotes.s3.url: expected a remote URL file://, nfs://, smb://, s3:// or s3+http://, got a string (value hidden)',
  },
  {
    label: 'a setting of the wrong type',
    text: json((d) => (d.job.settings[''] = { exportRetention: '3', timezone: 'UTC' })),
    message: `job.json: job.settings[''].exportRetention: expected a non-negative integer, got "3"`,
  },
  {
    label: 'long-term retention without timezone',
    text: json(
      (d) => (d.job.settings[''] = { exportRetention: 7, longTermRetention: { daily: { retention: 7 } } }),
    ),
    message: `job.json: job.settings[''].longTermRetention: expected a timezone with long-term retention (set timezone, e.g. in settings['']), got no timezone`,
  },
  {
    label: 'a secret file that does not exist',
    text: json(
      (d) =>
        (d.xapis.pool1 = {
          url: 'https://p',
          credentials: { username: 'root', password: { file: 'pw.txt' } },
        }),
    ),
    code: UNAVAILABLE,
    message: 'job.json: xapis.pool1.credentials.password: credential file "pw.txt" does not exist',
  },
  {
    label: 'an environment variable that is unset',
    text: json((d) => (d.remotes.s3 = { url: { env: 'S3_URL' } })),
    code: UNAVAILABLE,
    message: 'job.json: remotes.s3.url: environment variable S3_URL is not set',
  },
  {
    label: 'a xapi without url',
    text: json((d) => (d.xapis.pool1 = { credentials: { username: 'root', password: XAPI_SECRET } })),
    message:
      'job.json: xapis.pool1.url: expected the URL of the pool master, https://host or http://host, got nothing',
  },
  {
    label: 'a xapi URL carrying the password',
    text: json(
      (d) =>
        (d.xapis.pool1 = {
          url: `https://root:${XAPI_SECRET}@p`,
          credentials: { username: 'r', password: 'p' },
        }),
    ),
    message:
      'job.json: xapis.pool1.url: expected a URL without user or password (they go in credentials), got a URL with a user part',
  },
  {
    label: 'a negative concurrency',
    text: json((d) => (d.job.settings.daily = { concurrency: -1 })),
    message: 'job.json: job.settings.daily.concurrency: expected a non-negative integer, got -1',
  },
  {
    label: 'a compression outside the three values',
    text: json((d) => (d.job.compression = 'gzip')),
    message: `job.json: job.compression: expected '', 'native' or 'zstd', got "gzip"`,
  },
  {
    label: 'a power state in the wrong case',
    text: json((d) => (d.job.vms = { power_state: 'running' })),
    message: `job.json: job.vms.power_state: expected 'Running', 'Halted', 'Paused' or 'Suspended', got "running"`,
  },
  {
    label: 'an unknown VM property in a smart pattern',
    text: json((d) => (d.job.vms = { power_stat: 'Running' })),
    message:
      'job.json: job.vms.power_stat: expected a VM property among type, $pool, power_state, tags, name_label, name_description, got an unknown property',
  },
  {
    label: 'tags as a string',
    text: json((d) => (d.job.vms = { tags: 'prod' })),
    message: `job.json: job.vms.tags: expected an array of tags the VM must all have (e.g. ['prod']), or {__or: [['a'], ['b']]}, got "prod"`,
  },
  {
    label: 'an operator beside other keys',
    text: json((d) => (d.job.vms = { tags: { __or: [['a']], prod: true } })),
    message: 'job.json: job.vms.tags: expected __or as the only key of its object, got other keys beside it',
  },
  {
    label: 'an empty __or',
    text: json((d) => (d.job.vms = { $pool: { __or: [] } })),
    message: 'job.json: job.vms.$pool.__or: expected at least one pattern, got an empty array',
  },
  {
    label: 'a job id that is not a uuid',
    text: json((d) => (d.job.id = 'nightly')),
    message: 'job.json: job.id: expected a job uuid, got "nightly"',
  },
  {
    label: 'a mirror job',
    text: json((d) => (d.job.type = 'mirrorBackup')),
    message: `job.json: job.type: expected 'backup' (mirror and metadata jobs are not supported), got "mirrorBackup"`,
  },
  {
    label: 'a password of the wrong type',
    text: json((d) => (d.xapis.pool1.credentials.password = 1234)),
    message: `job.json: xapis.pool1.credentials.password: expected a string, {env: 'VARIABLE'} or {file: 'path'}, got a number (value hidden)`,
  },
  {
    label: 'a credential with both env and file',
    text: json((d) => (d.xapis.pool1.credentials.password = { env: 'PW', file: 'pw.txt' })),
    message: `job.json: xapis.pool1.credentials.password: expected a string, {env: 'VARIABLE'} or {file: 'path'}, got an object with the fields env, file`,
  },
  {
    label: 'a password under a misspelt field',
    text: json((d) => (d.xapis.pool1.credentials = { username: 'root', pasword: XAPI_SECRET })),
    message:
      'job.json: xapis.pool1.credentials.pasword: expected one of the fields username, password, got an unknown field',
  },
  {
    label: 'recordToXapi naming an unknown XAPI',
    text: json((d) => (d.recordToXapi = { [VM1]: 'pool2' })),
    message: `job.json: recordToXapi['${VM1}']: expected a XAPI id described in xapis (pool1), got "pool2"`,
  },
  {
    label: 'two XAPIs and a VM mapped to neither',
    text: json((d) => {
      d.xapis.pool2 = {
        url: 'https://pool2',
        credentials: { username: 'root', password: { env: 'PRESENT' } },
      }
      d.recordToXapi = { [VM1]: 'pool1' }
    }),
    message: `job.json: recordToXapi['${VM2}']: expected the XAPI holding VM ${VM2} (2 XAPIs are described), got no entry`,
  },
  {
    label: 'a duration with an unknown unit',
    text: json((d) => (d.job.settings[''] = { exportRetention: 1, timeout: '2 fortnights' })),
    message: `job.json: job.settings[''].timeout: expected a duration: milliseconds (a number) or a string like '90s', '10m', '2h', '1d', got "2 fortnights"`,
  },
  {
    label: 'a timeout longer than a timer can hold',
    text: json((d) => (d.job.settings[''] = { exportRetention: 1, timeout: '30d' })),
    message: `job.json: job.settings[''].timeout: expected a duration: milliseconds (a number) or a string like '90s', '10m', '2h', '1d', at most 24 days, got "30d"`,
  },
  {
    label: 'a misspelt top-level field',
    text: json((d) => {
      d.remote = d.remotes
    }),
    message:
      'job.json: remote: expected one of the fields job, recordToXapi, remotes, schedule, xapis, got an unknown field',
  },
  {
    label: 'an unknown long-term period',
    text: json(
      (d) => (d.job.settings[''] = { longTermRetention: { hourly: { retention: 24 } }, timezone: 'UTC' }),
    ),
    message: `job.json: job.settings[''].longTermRetention.hourly: expected a period among daily, weekly, monthly, yearly, got an unknown one`,
  },
  {
    label: 'offline backup with rolling snapshots',
    text: json((d) => (d.job.settings[VM1] = { offlineBackup: true, snapshotRetention: 2 })),
    message: `job.json: job.settings['${VM1}'].offlineBackup: expected snapshotRetention 0 with offlineBackup (XO refuses the pair), got snapshotRetention 2 from job.settings['${VM1}'].snapshotRetention`,
  },
  {
    label: 'an unknown timezone',
    text: json((d) => (d.job.settings[''] = { exportRetention: 1, timezone: 'Europe/Pariss' })),
    message: `job.json: job.settings[''].timezone: expected an IANA timezone like Europe/Paris, got "Europe/Pariss"`,
  },
  {
    label: 'no XAPI at all',
    text: json((d) => Object.assign(d, { xapis: {} })),
    message: 'job.json: xapis: expected at least one XAPI, got an empty object',
  },
]

describe('run description: bad content corpus', () => {
  it('has at least 25 cases', () => {
    assert.ok(cases.length >= 25, String(cases.length))
  })
  testBadDescriptions(cases)
})
