import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import type { NotificationSettings } from '../model.ts'
import type { Store } from '../store-port.ts'
import { DATABASE_FILE, SECRETS_FILE } from './open-store.ts'
import {
  sampleJob,
  samplePool,
  sampleRemote,
  sampleRun,
  sampleSchedule,
  storeErrorOf,
  tempStore,
} from './store-test-kit.ts'
import { openDatabase } from './native-handles.ts'

const SMTP: NotificationSettings = {
  webhooks: [{ url: 'https://hooks.example/a' }],
  smtp: { host: 'mail.example', port: 465, security: 'tls', username: 'backup', from: 'backup@example' },
}

describe('store: pools and remotes', () => {
  it('round-trips pools: create, list by name, replace, delete, with the password in secrets only', (t) => {
    const { store } = tempStore(t)
    store.putPool(samplePool('p2', { name: 'beta', allowUnauthorized: true }), 'pw-2')
    store.putPool(samplePool('p1', { name: 'alpha' }), 'pw-1')
    assert.deepEqual(
      store.listPools().map((p) => p.id),
      ['p1', 'p2'],
    )
    assert.deepEqual(store.getPool('p2'), samplePool('p2', { name: 'beta', allowUnauthorized: true }))
    assert.equal(store.secrets.get('pool:p2'), 'pw-2')
    store.putPool(samplePool('p2', { name: 'gamma', updatedAt: 2000 }))
    assert.deepEqual(store.getPool('p2'), samplePool('p2', { name: 'gamma', updatedAt: 2000 }))
    assert.equal(store.secrets.get('pool:p2'), 'pw-2', 'no password given: the stored one stays')
    assert.equal(store.deletePool('p2'), true)
    assert.equal(store.deletePool('p2'), false)
    assert.equal(store.getPool('p2'), undefined)
    assert.equal(store.secrets.get('pool:p2'), undefined)
    assert.equal(store.secrets.get('pool:p1'), 'pw-1')
  })

  it('round-trips remotes with the full URL in secrets', (t) => {
    const { store } = tempStore(t)
    store.putRemote(sampleRemote('r1'), 's3://AKIA:verysecret@bucket/dir')
    assert.deepEqual(store.listRemotes(), [sampleRemote('r1')])
    assert.deepEqual(store.getRemote('r1'), sampleRemote('r1'))
    assert.equal(store.secrets.get('remote:r1'), 's3://AKIA:verysecret@bucket/dir')
    store.putRemote(sampleRemote('r1', { name: 'renamed' }), 's3://AKIA:rotated@bucket/dir')
    assert.equal(store.getRemote('r1')?.name, 'renamed')
    assert.equal(store.secrets.get('remote:r1'), 's3://AKIA:rotated@bucket/dir')
    assert.equal(store.deleteRemote('r1'), true)
    assert.equal(store.secrets.get('remote:r1'), undefined)
    assert.deepEqual(store.listRemotes(), [])
  })

  it('never writes a secret to the database files, only to the 0600 secrets file', (t) => {
    const { store, dataDir } = tempStore(t)
    const secrets = ['pool-pw-6f1c2a', 'remote-key-9d3e7b', 'smtp-pw-41ab0c']
    store.putPool(samplePool('p1'), secrets[0])
    store.putRemote(sampleRemote('r1'), `s3://AKIA:${secrets[1]}@bucket/dir`)
    store.putNotificationSettings(SMTP, secrets[2])
    const scan = (): void => {
      for (const name of readdirSync(dataDir).filter((n) => n !== SECRETS_FILE)) {
        const bytes = readFileSync(join(dataDir, name))
        for (const secret of secrets)
          assert.equal(bytes.includes(secret), false, `${secret} found in ${name}`)
      }
    }
    scan()
    store.close()
    scan()
    assert.ok(readdirSync(dataDir).includes(DATABASE_FILE), 'the database file was scanned')
    const secretFile = readFileSync(join(dataDir, SECRETS_FILE), 'utf8')
    for (const secret of secrets) assert.ok(secretFile.includes(secret), `${secret} is in the secrets file`)
  })
})

describe('store: jobs and schedules', () => {
  it('round-trips jobs and keeps a job object as given', (t) => {
    const { store } = tempStore(t)
    store.putJob(sampleJob('j1'))
    store.putJob(sampleJob('j0', { name: 'a first' }))
    assert.deepEqual(store.getJob('j1'), sampleJob('j1'))
    assert.deepEqual(
      store.listJobs().map((j) => j.id),
      ['j0', 'j1'],
    )
    assert.equal(store.deleteJob('j0'), true)
    assert.equal(store.deleteJob('j0'), false)
    assert.equal(store.getJob('j0'), undefined)
  })

  it('round-trips schedules, lists them per job, and refuses one whose job is missing', (t) => {
    const { store } = tempStore(t)
    store.putJob(sampleJob('j1'))
    store.putJob(sampleJob('j2'))
    store.putSchedule(sampleSchedule('s1', 'j1'))
    store.putSchedule(sampleSchedule('s2', 'j2', { enabled: false, settings: {} }))
    assert.deepEqual(store.getSchedule('s1'), sampleSchedule('s1', 'j1'))
    assert.deepEqual(store.listSchedules('j2'), [
      sampleSchedule('s2', 'j2', { enabled: false, settings: {} }),
    ])
    assert.equal(store.listSchedules().length, 2)
    store.putSchedule(sampleSchedule('s1', 'j1', { cron: '*/5 * * * *' }))
    assert.equal(store.getSchedule('s1')?.cron, '*/5 * * * *')
    const error = storeErrorOf(() => {
      store.putSchedule(sampleSchedule('s3', 'nope'))
    })
    assert.equal(error.code, 'STORE_NOT_FOUND')
    assert.equal(store.deleteSchedule('s2'), true)
    assert.equal(store.deleteSchedule('s2'), false)
  })

  it('replacing a job keeps its schedules; deleting it deletes schedules and checkpoints, not runs', (t) => {
    const { store } = tempStore(t)
    store.putJob(sampleJob('j1'))
    store.putSchedule(sampleSchedule('s1', 'j1'))
    store.setScheduleCheckpoint('s1', 123)
    store.insertRun(sampleRun('r1', 'j1', 1000, { scheduleId: 's1', trigger: 'schedule' }))
    store.putJob(sampleJob('j1', { name: 'renamed' }))
    assert.equal(store.listSchedules('j1').length, 1, 'an upsert, not a delete and insert')
    assert.equal(store.deleteJob('j1'), true)
    assert.deepEqual(store.listSchedules(), [])
    assert.equal(store.getScheduleCheckpoint('s1'), undefined)
    assert.equal(store.getRun('r1')?.jobId, 'j1')
  })
})

describe('store: notification settings', () => {
  it('defaults to none, round-trips, and keeps, replaces or removes the SMTP password', (t) => {
    const { store } = tempStore(t)
    assert.deepEqual(store.getNotificationSettings(), { webhooks: [], smtp: null })
    store.putNotificationSettings(SMTP, 'pw1')
    assert.deepEqual(store.getNotificationSettings(), SMTP)
    assert.equal(store.secrets.get('smtp'), 'pw1')
    store.putNotificationSettings({ ...SMTP, webhooks: [] })
    assert.equal(store.secrets.get('smtp'), 'pw1', 'undefined keeps the password')
    assert.deepEqual(store.getNotificationSettings().webhooks, [])
    store.putNotificationSettings(SMTP, 'pw2')
    assert.equal(store.secrets.get('smtp'), 'pw2')
    store.putNotificationSettings(SMTP, null)
    assert.equal(store.secrets.get('smtp'), undefined, 'null removes it')
    store.putNotificationSettings(SMTP, 'pw3')
    store.putNotificationSettings({ webhooks: [], smtp: null })
    assert.equal(store.secrets.get('smtp'), undefined, 'no SMTP, no password')
  })
})

describe('store: rows read back are checked', () => {
  const cases = [
    ['jobs', "UPDATE jobs SET job = '{not json'", (s: Store) => s.getJob('j1')],
    ['jobs', "UPDATE jobs SET job = '[1]'", (s: Store) => s.listJobs()],
    ['schedules', "UPDATE schedules SET settings = 'null'", (s: Store) => s.listSchedules()],
    ['schedules', 'UPDATE schedules SET enabled = 7', (s: Store) => s.getSchedule('s1')],
    ['runs', "UPDATE runs SET status = 'bogus'", (s: Store) => s.listRuns()],
    ['runs', `UPDATE runs SET vms = '[{"uuid":1}]'`, (s: Store) => s.getRun('r1')],
    [
      'runs',
      `UPDATE runs SET params = '${'['.repeat(100)}${']'.repeat(100)}'`,
      (s: Store) => s.lastRunPerJob(),
    ],
    ['run_events', `UPDATE run_events SET json = '{"event":"nope"}'`, (s: Store) => s.listRunEvents('r1')],
    [
      'notification_settings',
      `UPDATE notification_settings SET json = '{"webhooks":[],"smtp":{"host":1}}'`,
      (s: Store) => s.getNotificationSettings(),
    ],
  ] as const
  for (const [table, update, read] of cases) {
    it(`${table}: ${update.slice(0, 60)} is STORE_ROW_INVALID naming the table`, (t) => {
      const { store, dataDir } = tempStore(t)
      store.putJob(sampleJob('j1'))
      store.putSchedule(sampleSchedule('s1', 'j1'))
      store.insertRun(sampleRun('r1', 'j1', 1000))
      store.appendRunEvents('r1', [{ event: 'task.info', id: 'r1', timestamp: 1, message: 'hi' }])
      store.putNotificationSettings(SMTP)
      const raw = openDatabase(join(dataDir, DATABASE_FILE))
      raw.exec(update)
      raw.close()
      const error = storeErrorOf(() => read(store))
      assert.equal(error.code, 'STORE_ROW_INVALID')
      assert.equal(error.details?.table, table)
      assert.ok(error.message.includes(table), error.message)
    })
  }
})
