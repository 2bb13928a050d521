import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { BackupError } from '../../shared/errors.ts'
import type { Json } from '../../shared/json.ts'
import type { TaskEvent } from '../events.ts'
import { EVENT_NAMES } from '../events.ts'
import { redact } from '../redact.ts'

/** A line that was not a valid event, with why. */
export interface RejectedLine {
  readonly line: number
  readonly reason: string
}

/** The events of a log file and the lines that were skipped (a cut last line after a crash…). */
export interface ParsedTaskLog {
  readonly events: TaskEvent[]
  readonly rejected: RejectedLine[]
}

/**
 * The longest line read as an event: events are a few hundred bytes, results and errors a few KiB;
 * 16 MiB is far above any of them and keeps a file without newlines (a binary) out of memory.
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024

/**
 * After this many rejected lines, when they outnumber the events, the file is judged not a task
 * log (TASK_LOG_INVALID) instead of being read to its end: a crash cuts one line, not twenty.
 */
export const NOT_A_LOG_AFTER = 20

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** A value quoted in a reason: JSON, at most 80 characters (a hostile line can be megabytes). */
function quote(value: unknown): string {
  // JSON.stringify gives undefined for undefined, whatever its declared type says.
  const text = (JSON.stringify(value) as string | undefined) ?? String(value)
  return text.length > 80 ? `${text.slice(0, 79)}…` : text
}

/** Why `value` is not a TaskEvent, or undefined when it is one (field-level checks). */
function invalidReason(value: unknown): string | undefined {
  if (!isObject(value)) return 'expected a JSON object'
  const { event, id, timestamp } = value
  if (typeof event !== 'string' || !EVENT_NAMES.has(event)) return `unknown event ${quote(event)}`
  if (typeof id !== 'string' || id === '') return 'field id: expected a non-empty string'
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp))
    return 'field timestamp: expected a number'
  if ('parentId' in value && typeof value.parentId !== 'string') return 'field parentId: expected a string'
  if ('data' in value && !isObject(value.data)) return 'field data: expected an object'
  if ((event === 'task.info' || event === 'task.warning') && typeof value.message !== 'string') {
    return 'field message: expected a string'
  }
  if (
    (event === 'task.end' || event === 'job.end') &&
    !['success', 'failure', 'skipped'].includes(String(value.status))
  ) {
    return `field status: expected success, failure or skipped, got ${quote(value.status)}`
  }
  if (event === 'task.progress' && typeof value.done !== 'number') return 'field done: expected a number'
  return undefined
}

/** Collects events line by line and judges, early, whether the input is a task log at all. */
class LogCollector {
  readonly events: TaskEvent[] = []
  readonly rejected: RejectedLine[] = []
  #seen = 0
  readonly #source: string

  constructor(source: string) {
    this.#source = source
  }

  /** One line: its text (undefined when longer than MAX_LINE_BYTES) and whether it ended with '\n'. */
  add(raw: string | undefined, line: number, terminated: boolean): void {
    if (raw?.trim() === '') return
    this.#seen++
    const reason =
      raw === undefined ? `line longer than ${MAX_LINE_BYTES} bytes` : this.#parse(raw, terminated)
    if (reason === undefined) return
    this.rejected.push({ line, reason })
    if (this.rejected.length >= NOT_A_LOG_AFTER && this.rejected.length > this.events.length) {
      throw new BackupError(
        'TASK_LOG_INVALID',
        `${this.#source}: not a task log: ${this.rejected.length} of the first ${this.#seen} lines are not task events`,
        { details: { rejected: this.rejected.slice(0, 3).map((r) => `${r.line}: ${r.reason}`) } },
      )
    }
  }

  #parse(raw: string, terminated: boolean): string | undefined {
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      return terminated ? 'not valid JSON' : 'truncated last line (writer stopped mid-line)'
    }
    // The writer's redaction again, on every string: a log written by another tool (or by hand)
    // may hold secrets, and nothing read here may show them. It also bounds the nesting depth.
    const safe = redact(value as Json)
    const reason = invalidReason(safe)
    if (reason === undefined) this.events.push(safe as unknown as TaskEvent)
    return reason
  }
}

/**
 * Parses JSONL text; invalid lines are reported, never fatal (a crash can cut the last line), and
 * every string is redacted as the writer does. Text that is mostly not events (NOT_A_LOG_AFTER
 * rejected lines outnumbering the events) throws TASK_LOG_INVALID naming `source`.
 */
export function parseTaskLog(text: string, source = 'task log'): ParsedTaskLog {
  const collector = new LogCollector(source)
  const lines = text.split('\n')
  lines.forEach((raw, index) => {
    const long = Buffer.byteLength(raw) > MAX_LINE_BYTES
    collector.add(long ? undefined : raw, index + 1, index < lines.length - 1)
  })
  return { events: collector.events, rejected: collector.rejected }
}

/** The lines of a file, streamed: each line's text (undefined past MAX_LINE_BYTES) and whether '\n' ended it. */
async function* fileLines(path: string): AsyncGenerator<[string | undefined, boolean]> {
  let parts: Buffer[] = []
  let length = 0
  let tooLong = false
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const bytes = chunk as Buffer
    for (let at = 0; at < bytes.length;) {
      const newline = bytes.indexOf(10, at)
      const end = newline === -1 ? bytes.length : newline
      if (!tooLong && length + end - at <= MAX_LINE_BYTES) {
        parts.push(bytes.subarray(at, end))
        length += end - at
      } else {
        // Past the limit the rest of the line is skipped, never kept.
        tooLong = true
        parts = []
      }
      if (newline === -1) break
      yield [tooLong ? undefined : Buffer.concat(parts).toString('utf8'), true]
      parts = []
      length = 0
      tooLong = false
      at = newline + 1
    }
  }
  if (tooLong || length > 0) yield [tooLong ? undefined : Buffer.concat(parts).toString('utf8'), false]
}

/**
 * Reads and parses a JSONL task log file as parseTaskLog does, streaming it (a line is at most
 * MAX_LINE_BYTES, and a file that is not a log is given up after NOT_A_LOG_AFTER rejected lines).
 * A missing, unreadable or non-regular file is TASK_LOG_UNREADABLE; a non-log TASK_LOG_INVALID.
 */
export async function readTaskLog(path: string): Promise<ParsedTaskLog> {
  const collector = new LogCollector(path)
  let line = 0
  try {
    // A FIFO or a device (/dev/zero) could stream forever without a newline.
    if (!(await stat(path)).isFile())
      throw new BackupError('TASK_LOG_UNREADABLE', `cannot read task log ${path}: not a regular file`)
    for await (const [raw, terminated] of fileLines(path)) collector.add(raw, ++line, terminated)
  } catch (error) {
    if (error instanceof BackupError) throw error
    throw new BackupError('TASK_LOG_UNREADABLE', `cannot read task log ${path}`, { cause: error })
  }
  return { events: collector.events, rejected: collector.rejected }
}
