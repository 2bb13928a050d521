import assert from 'node:assert/strict'
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createFixedClock } from '../../shared/clock.ts'
import { STORE_VERSION } from './migrations.ts'
import { DATABASE_FILE, openStore, openStoreDatabase, SECRETS_FILE } from './open-store.ts'
import { sampleJob, samplePool, sampleRun, storeErrorOf, tempDir } from './store-test-kit.ts'
import { keepForever, openDatabase, runPragma } from './native-handles.ts'

/** A database file at `file` with `user_version` set, in rollback or WAL journal mode. */
function writeDatabase(file: string, userVersion: number, journal: 'delete' | 'wal' = 'delete'): void {
  const db = openDatabase(file)
  runPragma(db, `journal_mode = ${journal}`)
  db.exec("CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('x')")
  runPragma(db, `user_version = ${userVersion}`)
  db.close()
}

/** A closed store database with enough rows to span many pages. */
function writeStoreWithRows(dataDir: string): string {
  const store = openStore(dataDir)
  store.putJob(sampleJob('j1'))
  for (let i = 0; i < 1500; i++) store.insertRun(sampleRun(`run-${String(i).padStart(5, '0')}`, 'j1', i))
  store.close()
  return join(dataDir, DATABASE_FILE)
}

describe('openStore: creation and reopening', () => {
  it('creates a missing data directory 0700, the database at the current version in WAL mode, and secrets 0600', (t) => {
    const dataDir = join(tempDir(t), 'a', 'data')
    const store = openStore(dataDir)
    store.close()
    assert.equal(lstatSync(dataDir).mode & 0o777, 0o700)
    assert.equal(lstatSync(join(dataDir, SECRETS_FILE)).mode & 0o777, 0o600)
    const db = openDatabase(join(dataDir, DATABASE_FILE), { readonly: true })
    t.after(() => db.close())
    assert.equal(runPragma(db, 'user_version', { simple: true }), STORE_VERSION)
    assert.equal(runPragma(db, 'journal_mode', { simple: true }), 'wal')
    const sql = "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name"
    const tables = keepForever(db.prepare(sql)).pluck().all()
    assert.deepEqual(tables, [
      'jobs',
      'notification_settings',
      'pools',
      'remotes',
      'run_events',
      'runs',
      'schedule_checkpoints',
      'schedules',
      'tokens',
    ])
  })

  it('keeps records, secrets and tokens across a reopen', (t) => {
    const dataDir = join(tempDir(t), 'data')
    const clock = createFixedClock()
    const first = openStore(dataDir, { clock })
    first.putPool(samplePool('p1'), 'pool-password')
    first.putJob(sampleJob('j1'))
    first.insertRun(sampleRun('r1', 'j1', 5000))
    first.appendRunEvents('r1', [{ event: 'job.start', id: 'r1', timestamp: 5000, data: { mode: 'full' } }])
    const { token } = first.createToken('ci')
    first.close()

    const second = openStore(dataDir, { clock })
    t.after(() => {
      second.close()
    })
    assert.deepEqual(second.getPool('p1'), samplePool('p1'))
    assert.equal(second.secrets.get('pool:p1'), 'pool-password')
    assert.deepEqual(second.getJob('j1'), sampleJob('j1'))
    assert.deepEqual(second.getRun('r1'), sampleRun('r1', 'j1', 5000))
    assert.equal(second.listRunEvents('r1').length, 1)
    assert.equal(second.verifyToken(token)?.name, 'ci')
  })

  it('opens read-write with foreign keys on, WAL and a busy timeout', (t) => {
    const db = openStoreDatabase(join(tempDir(t), DATABASE_FILE))
    t.after(() => db.close())
    assert.equal(runPragma(db, 'foreign_keys', { simple: true }), 1)
    assert.equal(runPragma(db, 'journal_mode', { simple: true }), 'wal')
    assert.ok(Number(runPragma(db, 'busy_timeout', { simple: true })) >= 1000, 'a busy timeout is set')
  })

  it('takes an empty database file (as SQLite creates them) for a new one', (t) => {
    const dataDir = tempDir(t)
    writeFileSync(join(dataDir, DATABASE_FILE), '')
    const store = openStore(dataDir)
    t.after(() => {
      store.close()
    })
    store.putPool(samplePool('p1'))
    assert.equal(store.listPools().length, 1)
  })
})

describe('openStore: refusals leave the files untouched', () => {
  for (const journal of ['delete', 'wal'] as const) {
    it(`refuses a database with a newer user_version (${journal} journal) with STORE_TOO_NEW`, (t) => {
      const dataDir = tempDir(t)
      const file = join(dataDir, DATABASE_FILE)
      writeDatabase(file, STORE_VERSION + 1, journal)
      const before = readFileSync(file)
      const error = storeErrorOf(() => openStore(dataDir))
      assert.equal(error.code, 'STORE_TOO_NEW')
      assert.match(error.message, new RegExp(`${file}.*version ${STORE_VERSION + 1}.*${STORE_VERSION}`))
      assert.deepEqual(readFileSync(file), before)
      assert.equal(existsSync(`${file}-wal`), false, 'no -wal file created')
      assert.equal(existsSync(`${file}-shm`), false, 'no -shm file created')
      assert.equal(existsSync(join(dataDir, SECRETS_FILE)), false, 'nothing else written')
    })
  }

  it('refuses a newer version that is only in the -wal file (a crash before checkpoint)', (t) => {
    const dir = tempDir(t)
    const source = join(dir, 'source.sqlite')
    const writer = openDatabase(source)
    t.after(() => writer.close())
    runPragma(writer, 'journal_mode = wal')
    runPragma(writer, 'wal_autocheckpoint = 0')
    writer.exec('CREATE TABLE t (a TEXT)')
    runPragma(writer, `user_version = ${STORE_VERSION + 7}`)
    const dataDir = join(dir, 'data')
    mkdirSync(dataDir)
    const file = join(dataDir, DATABASE_FILE)
    copyFileSync(source, file)
    copyFileSync(`${source}-wal`, `${file}-wal`)
    assert.equal(readFileSync(file).readInt32BE(60), 0, 'the header still has the old version')
    const before = readFileSync(file)
    const error = storeErrorOf(() => openStore(dataDir))
    assert.equal(error.code, 'STORE_TOO_NEW')
    assert.match(error.message, new RegExp(`version ${STORE_VERSION + 7}`))
    assert.deepEqual(readFileSync(file), before)
  })

  const damages: readonly (readonly [string, (file: string) => void])[] = [
    [
      'a file that is not SQLite',
      (file) => {
        writeFileSync(file, 'this is not a database at all\n'.repeat(40))
      },
    ],
    [
      'a file truncated inside the header',
      (file) => {
        truncateSync(file, 50)
      },
    ],
    [
      'a file truncated after three pages',
      (file) => {
        truncateSync(file, 3 * 4096)
      },
    ],
    [
      'a file whose data page fails quick_check',
      (file) => {
        const bytes = readFileSync(file)
        bytes.fill(0x41, bytes.length - 2 * 4096, bytes.length - 4096)
        writeFileSync(file, bytes)
      },
    ],
  ]
  for (const [what, damage] of damages) {
    it(`refuses ${what} with STORE_CORRUPT naming it`, (t) => {
      const dataDir = tempDir(t)
      const file = writeStoreWithRows(dataDir)
      damage(file)
      const before = readFileSync(file)
      const error = storeErrorOf(() => openStore(dataDir))
      assert.equal(error.code, 'STORE_CORRUPT')
      assert.ok(error.message.includes(file), error.message)
      assert.deepEqual(readFileSync(file), before)
    })
  }

  it('refuses a data directory that is a symlink or a file, and a database path that is a symlink', (t) => {
    const dir = tempDir(t)
    mkdirSync(join(dir, 'real'))
    symlinkSync(join(dir, 'real'), join(dir, 'link'))
    assert.equal(storeErrorOf(() => openStore(join(dir, 'link'))).code, 'STORE_DATA_DIR_INVALID')
    writeFileSync(join(dir, 'file'), 'x')
    assert.equal(storeErrorOf(() => openStore(join(dir, 'file'))).code, 'STORE_DATA_DIR_INVALID')
    writeDatabase(join(dir, 'elsewhere.sqlite'), 0)
    symlinkSync(join(dir, 'elsewhere.sqlite'), join(dir, 'real', DATABASE_FILE))
    assert.equal(storeErrorOf(() => openStore(join(dir, 'real'))).code, 'STORE_DATA_DIR_INVALID')
  })

  it('refuses a secrets file open to others before creating the database', (t) => {
    const dataDir = tempDir(t)
    writeFileSync(join(dataDir, SECRETS_FILE), '{"version":1,"secrets":{}}', { mode: 0o644 })
    const error = storeErrorOf(() => openStore(dataDir))
    assert.equal(error.code, 'STORE_SECRETS_MODE')
    assert.equal(existsSync(join(dataDir, DATABASE_FILE)), false, 'no database created')
  })
})
