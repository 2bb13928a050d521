import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { inspect } from 'node:util'
import type { CredentialReader } from './credentials.ts'
import { parseRunDescription } from './run-description.ts'
import { resolveRunCredentials } from './run-description-file.ts'
import { RunDescriptionError } from './run-description-error.ts'

// Mistakes users make in a run description, each with the one line they must get back. Every
// case also checks that no secret of the document reaches the message, details, JSON or inspect.
const XAPI_SECRET = 'hunter2-SECRET'
const S3_SECRET = 's3cr3t-SECRET'
const JOB = '0b7e5a3c-0000-4000-8000-000000000001'
const VM1 = '11111111-2222-4333-8444-555555555555'
const VM2 = '22222222-2222-4333-8444-555555555555'

type Xapi = Record<string, unknown> & { credentials: Record<string, unknown> }
interface Doc {
  job: Record<string, unknown> & { settings: Record<string, Record<string, unknown>> }
  schedule: Record<string, unknown>
  remotes: Record<string, Record<string, unknown>>
  xapis: Record<string, Xapi> & { pool1: Xapi }
  [extra: string]: unknown
}

const base = (): Doc => ({
  job: {
    id: JOB,
    name: 'nightly',
    mode: 'delta',
    remotes: { id: { __or: ['nas', 's3'] } },
    vms: { id: { __or: [VM1, VM2] } },
    settings: { '': { exportRetention: 7, timezone: 'Europe/Paris' }, daily: { fullInterval: 7 } },
  },
  schedule: { id: 'daily' },
  remotes: { nas: { url: 'file:///srv/backups' }, s3: { url: `s3://AKID:${S3_SECRET}@s3.example/bucket` } },
  xapis: {
    pool1: { url: 'https://pool1.example', credentials: { username: 'root', password: XAPI_SECRET } },
  },
})

const json = (edit: (doc: Doc) => void): string => {
  const doc = base()
  edit(doc)
  return JSON.stringify(doc, null, 2)
}

const reader: CredentialReader = {
  env: { PRESENT: 'value' },
  readFile: (path) => Promise.reject(Object.assign(new Error(`${path}: gone`), { code: 'ENOENT' })),
}

type Case = { label: string; text: string; file?: string; code?: string; message: string }

const SYNTAX = 'RUN_DESCRIPTION_SYNTAX'
const UNAVAILABLE = 'CREDENTIAL_UNAVAILABLE'
const cases: Case[] = [
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
    label: "another schedule's settings",
    text: json((d) => (d.job.settings.weekly = { exportRetention: 4 })),
    message: `job.json: job.settings.weekly: expected '' (the job), the schedule 'daily', a VM of job.vms, a remote of job.remotes or an SR of job.srs, got a key naming none of them (another schedule's settings? this run uses the schedule above)`,
  },
  {
    label: 'a YAML syntax error (line and column)',
    file: 'job.yaml',
    text: `job:\n  id: ${JOB}\n  mode: [full\nschedule: {id: daily}\n`,
    code: SYNTAX,
    message: 'job.yaml:4:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
  },
  {
    label: 'an unterminated YAML quote on the password line',
    file: 'job.yaml',
    text: `xapis:\n  p:\n    credentials:\n      password: "${XAPI_SECRET}\n`,
    code: SYNTAX,
    message: 'job.yaml:5:1: Missing closing "quote',
  },
  {
    label: 'YAML duplicate keys',
    file: 'job.yml',
    text: 'schedule: {id: daily}\njob:\n  mode: full\n  mode: delta\n',
    code: SYNTAX,
    message: 'job.yml:4:3: duplicate key (keys must be unique)',
  },
  {
    label: 'YAML tab indentation',
    file: 'job.yaml',
    text: 'job:\n\tmode: full\n',
    code: SYNTAX,
    message: 'job.yaml:2:1: Tabs are not allowed as indentation',
  },
  {
    label: 'JSON duplicate keys',
    text: '{\n  "job": {},\n  "job": {}\n}',
    code: SYNTAX,
    message: 'job.json:3:3: duplicate field "job" (first at line 2, column 3)',
  },
  {
    label: 'JSON with a byte order mark',
    text: `\uFEFF${json(() => undefined)}`,
    code: SYNTAX,
    message: 'job.json:1:1: the file starts with a byte order mark (BOM): save it as UTF-8 without BOM',
  },
  {
    label: 'JSON with a trailing comma',
    text: '{\n  "schedule": {"id": "daily"},\n}',
    code: SYNTAX,
    message: "job.json:2:30: trailing comma before '}' (JSON allows none)",
  },
  {
    label: 'JSON with a comment',
    text: '{\n  // nightly\n}',
    code: SYNTAX,
    message: 'job.json:2:3: comments are not allowed in JSON (YAML allows them)',
  },
  {
    label: 'JSON with an unquoted password',
    text: `{"xapis": {"p": {"credentials": {"password": ${XAPI_SECRET}}}}}`,
    code: SYNTAX,
    message:
      'job.json:1:46: expected a value (a string in double quotes, a number, an object, an array, true, false or null)',
  },
  {
    label: 'JSON with an unterminated password string',
    text: `{"xapis": {"p": {"credentials": {"password": "${XAPI_SECRET}\n}}}}`,
    code: SYNTAX,
    message: 'job.json:1:46: unterminated string',
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

describe('run description: bad input corpus', () => {
  it('has at least 25 cases', () => {
    assert.ok(cases.length >= 25, String(cases.length))
  })
  for (const c of cases) {
    it(c.label, async () => {
      const file = c.file ?? 'job.json'
      const error = await (async () => {
        const { description } = parseRunDescription(c.text, file)
        await resolveRunCredentials(description, reader, file)
      })().then(
        () => assert.fail('no error'),
        (e: unknown) => e,
      )
      assert.ok(error instanceof RunDescriptionError, String(error))
      assert.equal(error.message, c.message)
      assert.equal(error.code, c.code ?? 'RUN_DESCRIPTION_INVALID')
      assert.ok(!error.message.includes('\n'), 'one line')
      for (const shown of [error.message, JSON.stringify(error), inspect(error, { depth: 5 })])
        for (const secret of [XAPI_SECRET, S3_SECRET])
          assert.ok(!shown.includes(secret), `${secret} in ${shown}`)
    })
  }
})
