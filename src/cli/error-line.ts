// The one place that turns a thrown value into what a person reads: a single line
// `error: <what> (<path or field>) [CODE]; hint: <what to do>`, never a stack, never Node's message
// twice. Commands throw typed errors (BackupError with `details.path|file|field|hint`, Node errno
// errors) or CliExit, and leave the wording of the line to this file.
import { BackupError } from '../shared/errors.ts'
import { CliExit } from './io.ts'

/** Exit codes of every command (README §Commands and `--help`). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

// Codes that mean "the command line was wrong", whoever noticed it: the remote URL argument.
const USAGE_CODES: ReadonlySet<string> = new Set(['INVALID_URL'])

interface SystemError extends Error {
  readonly code: string
  readonly syscall: string
  readonly path?: string
  readonly dest?: string
}

function isSystemError(error: unknown): error is SystemError {
  if (!(error instanceof Error)) return false
  const { code, syscall } = error as { code?: unknown; syscall?: unknown }
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && typeof syscall === 'string'
}

/** The Node errno error at the bottom of `error`'s cause chain, if any (bounded walk). */
function findSystemError(error: unknown): SystemError | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 8 && current instanceof Error; depth++) {
    if (isSystemError(current)) return current
    current = current.cause
  }
  return undefined
}

// Node's message is `ENOENT: no such file or directory, open '/x'`: the words in the middle are
// what a person needs, the path goes in parentheses once. Thrown as is, its code goes in brackets
// like any code; wrapped in another error, it stays in front of the words (`ENOENT: no such…`).
function describeSystemError(error: SystemError, wrapped: boolean): string {
  const words = /^E[A-Z0-9]+: (.*?)(?:, \w+ '.*')?$/s.exec(error.message)?.[1] ?? error.message
  return wrapped ? `${error.code}: ${words}` : words
}

const SYSTEM_HINTS: Readonly<Record<string, string>> = {
  EACCES: 'check the permissions, or run as a user who may read and write there',
  ENOSPC: 'free some space or use another target',
  EROFS: 'the filesystem is read-only: use another target',
}

// One line, and no terminal control characters from hostile file names or server messages.
const oneLine = (text: string): string =>
  text
    .replace(/\s*\n\s*/g, ' ')
    // eslint-disable-next-line no-control-regex -- the point is to find control characters
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    .trim()

const stringDetail = (details: Readonly<Record<string, unknown>> | undefined, key: string) => {
  const value = details?.[key]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** What to say about `error`: the line (without the trailing newline) and the exit code. */
export function formatCliError(error: unknown): { line: string; exitCode: number } {
  if (error instanceof CliExit) {
    const text = oneLine(error.message).replace(/^error: /, '')
    return { line: text === '' ? '' : `error: ${text}`, exitCode: error.exitCode }
  }
  const system = findSystemError(error)
  const message = error instanceof Error ? error.message : String(error)
  let what: string
  if (system === undefined) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : ''
    what = cause === '' || message.includes(cause) ? message : `${message}: ${cause}`
  } else if (system === error) {
    what = describeSystemError(system, false)
  } else {
    // A wrapper may quote Node's message (toRemoteError does) or not: either way it is said once.
    const described = describeSystemError(system, true)
    what = message.includes(system.message)
      ? message.split(system.message).join(described)
      : `${message}: ${described}`
  }
  what = oneLine(what)
  const details = error instanceof BackupError ? error.details : undefined
  const where = [
    stringDetail(details, 'path') ?? stringDetail(details, 'file') ?? system?.path,
    system?.dest,
    stringDetail(details, 'field'),
  ].filter((part): part is string => part !== undefined && !what.includes(part))
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined
  const hint = stringDetail(details, 'hint') ?? (system === undefined ? undefined : SYSTEM_HINTS[system.code])
  const line = [
    `error: ${what}`,
    where.length === 0 ? '' : ` (${oneLine(where.join(', '))})`,
    typeof code === 'string' ? ` [${code}]` : '',
    hint === undefined ? '' : `; hint: ${oneLine(hint)}`,
  ].join('')
  const usage = typeof code === 'string' && USAGE_CODES.has(code)
  return { line, exitCode: usage ? EXIT.usage : EXIT.failure }
}
