// The secrets file of the job server (issue 12): XAPI passwords, remote URLs with keys and the
// SMTP password, kept out of the database (which is copied, inspected and backed up more freely).
import { randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  lstatSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { dirname } from 'node:path'
import type { SecretStore } from '../store-port.ts'
import { StoreError } from './store-error.ts'

const FORMAT_VERSION = 1

/** A SecretStore backed by one file; `path` names it. */
export interface SecretFile extends SecretStore {
  readonly path: string
}

/**
 * Opens the secrets file at `path`, creating it (mode 0600, empty) when missing. Refuses a
 * symlink or non-regular file and a file that is not our JSON (STORE_SECRETS_INVALID, never
 * overwritten), and a file open to group or others (STORE_SECRETS_MODE). Every change rewrites the
 * file atomically (0600 temp file, fsync, rename) before the in-memory copy changes.
 */
export function openSecretFile(path: string): SecretFile {
  let secrets = readSecretFile(path)
  if (secrets === undefined) {
    secrets = new Map()
    writeSecretFile(path, secrets)
  }
  let current: ReadonlyMap<string, string> = secrets
  const replace = (next: ReadonlyMap<string, string>): void => {
    writeSecretFile(path, next)
    current = next
  }
  return {
    path,
    get: (key) => current.get(key),
    set(key, value) {
      if (current.get(key) === value) return
      replace(new Map(current).set(key, value))
    },
    delete(key) {
      if (!current.has(key)) return
      const next = new Map(current)
      next.delete(key)
      replace(next)
    },
  }
}

/** The secrets in the file at `path`, or undefined when there is no file. */
function readSecretFile(path: string): Map<string, string> | undefined {
  let stats
  try {
    stats = lstatSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new StoreError('STORE_SECRETS_INVALID', `cannot read the secrets file ${path}`, {
      details: { file: path },
      cause: error,
    })
  }
  // lstat first so that a FIFO or device is never opened; O_NOFOLLOW and fstat close the race.
  if (!stats.isFile()) throw notAFile(path, stats.isSymbolicLink() ? 'a symlink' : 'not a regular file')
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw notAFile(path, 'a symlink')
    throw new StoreError('STORE_SECRETS_INVALID', `cannot open the secrets file ${path}`, {
      details: { file: path },
      cause: error,
    })
  }
  try {
    const opened = fstatSync(fd)
    if (!opened.isFile()) throw notAFile(path, 'not a regular file')
    if ((opened.mode & 0o077) !== 0) {
      const mode = (opened.mode & 0o777).toString(8).padStart(4, '0')
      throw new StoreError(
        'STORE_SECRETS_MODE',
        `the secrets file ${path} has mode ${mode}: group or others may access it; ` +
          `run chmod 600 ${path} after checking who could have read it`,
        { details: { file: path, mode } },
      )
    }
    return parseSecrets(path, readFileSync(fd, 'utf8'))
  } finally {
    closeSync(fd)
  }
}

function notAFile(path: string, what: string): StoreError {
  return new StoreError('STORE_SECRETS_INVALID', `the secrets file ${path} is ${what}; refusing it`, {
    details: { file: path },
  })
}

function parseSecrets(path: string, text: string): Map<string, string> {
  const invalid = (why: string, cause?: unknown): StoreError =>
    new StoreError(
      'STORE_SECRETS_INVALID',
      `the secrets file ${path} is not a secrets file of xapi-backup (${why}); ` +
        'it is left as is: restore it from a backup or move it away',
      { details: { file: path }, cause },
    )
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw invalid('not JSON', error)
  }
  if (!isPlainObject(parsed)) throw invalid('not a JSON object')
  if (parsed.version !== FORMAT_VERSION) throw invalid(`version is not ${FORMAT_VERSION}`)
  const secrets = parsed.secrets
  if (!isPlainObject(secrets)) throw invalid('"secrets" is not an object')
  const out = new Map<string, string>()
  for (const [key, value] of Object.entries(secrets)) {
    if (typeof value !== 'string') throw invalid(`the value of ${JSON.stringify(key)} is not a string`)
    out.set(key, value)
  }
  return out
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Replaces the file at `path` with `secrets`: a 0600 temp file, fsync, rename, fsync of the dir. */
function writeSecretFile(path: string, secrets: ReadonlyMap<string, string>): void {
  const text = `${JSON.stringify({ version: FORMAT_VERSION, secrets: Object.fromEntries(secrets) }, null, 2)}\n`
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    // 'wx' is O_CREAT|O_EXCL: never follows or reuses an existing name; 0600 from creation on.
    const fd = openSync(temp, 'wx', 0o600)
    try {
      const bytes = Buffer.from(text, 'utf8')
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(temp, path)
  } catch (error) {
    try {
      unlinkSync(temp)
    } catch {
      // The temp file may not exist (open failed); the original error is what matters.
    }
    throw new StoreError('STORE_SECRETS_WRITE_FAILED', `cannot write the secrets file ${path}`, {
      details: { file: path },
      cause: error,
    })
  }
  syncDirectory(dirname(path))
}

function syncDirectory(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some file systems refuse fsync on a directory; the rename is then as durable as they allow.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
