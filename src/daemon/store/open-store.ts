// Opening the job server's store (issue 12): the data directory, a check of the database that
// never writes, the secrets file, then the database read-write and migrated.
import { closeSync, constants, lstatSync, mkdirSync, openSync, readSync } from 'node:fs'
import type { Stats } from 'node:fs'
import { join } from 'node:path'
import type Database from 'better-sqlite3'
import { systemClock } from '../../shared/clock.ts'
import type { Clock } from '../../shared/clock.ts'
import { errorCode } from '../../shared/errors.ts'
import type { SecretStore, Store } from '../store-port.ts'
import { createConfigStore } from './config-store.ts'
import { migrate, readUserVersion, STORE_VERSION, tooNewError } from './migrations.ts'
import { createRunStore } from './run-store.ts'
import { openDatabase, runPragma } from './native-handles.ts'
import { openSecretFile } from './secret-file.ts'
import { StoreError } from './store-error.ts'
import { createTokenStore } from './token-store.ts'

/** The database's file name in the data directory. */
export const DATABASE_FILE = 'xapi-backup.sqlite'
/** The secrets file's name in the data directory. */
export const SECRETS_FILE = 'secrets.json'

// How long a statement waits for another connection's lock before SQLITE_BUSY.
const BUSY_TIMEOUT_MS = 5000
const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1')
const HEADER_BYTES = 100
const USER_VERSION_OFFSET = 60

/** Options of openStore. */
export interface OpenStoreOptions {
  readonly clock?: Clock
}

/**
 * Opens the store in `dataDir` (created 0700 when missing; a symlink or file is refused): checks
 * the database without writing (STORE_TOO_NEW, STORE_CORRUPT leave it untouched), opens the
 * secrets file, then opens the database read-write (WAL, foreign keys) and applies migrations.
 */
export function openStore(dataDir: string, options: OpenStoreOptions = {}): Store {
  prepareDataDir(dataDir)
  const file = join(dataDir, DATABASE_FILE)
  checkDatabaseFile(file)
  const secrets = openSecretFile(join(dataDir, SECRETS_FILE))
  return createSqliteStore(openStoreDatabase(file), secrets, options.clock ?? systemClock)
}

/** The Store over an open, migrated database `db` and `secrets`; `close()` closes `db`. */
export function createSqliteStore(db: Database.Database, secrets: SecretStore, clock: Clock): Store {
  return {
    secrets,
    ...createConfigStore(db, secrets),
    ...createRunStore(db),
    ...createTokenStore(db, clock),
    close: () => {
      db.close()
    },
  }
}

/** Opens the database `file` read-write (created when missing) in WAL mode and migrates it. */
export function openStoreDatabase(file: string): Database.Database {
  let db: Database.Database | undefined
  try {
    db = openDatabase(file, { timeout: BUSY_TIMEOUT_MS })
    // foreign_keys is per connection and a no-op inside a transaction: set before migrating.
    runPragma(db, 'foreign_keys = ON')
    const mode = runPragma(db, 'journal_mode = WAL', { simple: true })
    if (mode !== 'wal')
      throw new StoreError('STORE_OPEN_FAILED', `${file}: cannot use WAL mode (got ${String(mode)})`)
    // In WAL mode NORMAL keeps the database consistent through a crash and syncs at checkpoints
    // only: a run's task events (one write each) and a token's last use must not cost an fsync.
    // A power cut may lose the last few events of a run; the remote's data never depends on them.
    runPragma(db, 'synchronous = NORMAL')
    migrate(db, file)
    return db
  } catch (error) {
    db?.close()
    throw asStoreError(error, file)
  }
}

function prepareDataDir(dataDir: string): void {
  let stats = lstatOrUndefined(dataDir)
  if (stats === undefined) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    stats = lstatSync(dataDir)
  }
  if (stats.isSymbolicLink() || !stats.isDirectory()) {
    const what = stats.isSymbolicLink() ? 'a symlink' : 'not a directory'
    throw new StoreError(
      'STORE_DATA_DIR_INVALID',
      `the data directory ${dataDir} is ${what}; give a real directory`,
      {
        details: { path: dataDir },
      },
    )
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined
    throw error
  }
}

/**
 * Refuses a database we must not open read-write, without writing to it: not a regular file,
 * not SQLite, newer than us (by its header, then by SQLite read-only), or failing quick_check.
 */
function checkDatabaseFile(file: string): void {
  const stats = lstatOrUndefined(file)
  if (stats === undefined) return
  if (!stats.isFile()) {
    throw new StoreError(
      'STORE_DATA_DIR_INVALID',
      `${file} is ${stats.isSymbolicLink() ? 'a symlink' : 'not a file'}`,
      {
        details: { file },
      },
    )
  }
  // SQLite itself takes an empty file for an empty database (it creates them so).
  if (stats.size === 0) return
  const header = readHeader(file)
  if (header.length < HEADER_BYTES || !header.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC))
    throw corruptError(file, 'not an SQLite database (no SQLite header)')
  // The header alone refuses a newer file before SQLite opens it: a read-only open of a WAL-mode
  // file creates its -wal and -shm files, which we do not want beside a file we refuse.
  const headerVersion = header.readInt32BE(USER_VERSION_OFFSET)
  if (headerVersion > STORE_VERSION) throw tooNewError(file, headerVersion)
  checkWithSqlite(file)
}

function readHeader(file: string): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    const header = Buffer.alloc(HEADER_BYTES)
    let length = 0
    for (let n = -1; n !== 0 && length < HEADER_BYTES; length += n) {
      n = readSync(fd, header, length, HEADER_BYTES - length, length)
    }
    return header.subarray(0, length)
  } finally {
    closeSync(fd)
  }
}

// The header may predate a migration still in the -wal file (a crash before checkpoint): SQLite
// read-only sees the committed state.
function checkWithSqlite(file: string): void {
  let db: Database.Database | undefined
  try {
    db = openDatabase(file, { readonly: true, fileMustExist: true, timeout: BUSY_TIMEOUT_MS })
    const version = readUserVersion(db)
    if (version > STORE_VERSION) throw tooNewError(file, version)
    const problems = (runPragma(db, 'quick_check') as { quick_check: string }[]).map((row) => row.quick_check)
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw corruptError(file, `PRAGMA quick_check failed: ${problems.slice(0, 3).join('; ')}`)
    }
  } catch (error) {
    throw asStoreError(error, file)
  } finally {
    db?.close()
  }
}

function corruptError(file: string, why: string, cause?: unknown): StoreError {
  return new StoreError(
    'STORE_CORRUPT',
    `the database ${file} is damaged: ${why}; it is left untouched: restore it from a backup or move it away`,
    { details: { file }, cause },
  )
}

function asStoreError(error: unknown, file: string): StoreError {
  if (error instanceof StoreError) return error
  const code = errorCode(error) ?? ''
  if (code === 'SQLITE_NOTADB') return corruptError(file, 'not an SQLite database', error)
  if (code.startsWith('SQLITE_CORRUPT')) return corruptError(file, 'SQLite reports it malformed', error)
  return new StoreError('STORE_OPEN_FAILED', `cannot open the database ${file}: ${String(error)}`, {
    details: { file },
    cause: error,
  })
}
