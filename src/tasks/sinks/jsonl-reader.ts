import { readFile } from 'node:fs/promises'
import { BackupError } from '../../shared/errors.ts'
import type { TaskEvent } from '../events.ts'
import { EVENT_NAMES } from '../events.ts'

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

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Why `value` is not a TaskEvent, or undefined when it is one (field-level checks). */
function invalidReason(value: unknown): string | undefined {
  if (!isObject(value)) return 'expected a JSON object'
  const { event, id, timestamp } = value
  if (typeof event !== 'string' || !EVENT_NAMES.has(event)) return `unknown event ${JSON.stringify(event)}`
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
    return `field status: expected success, failure or skipped, got ${JSON.stringify(value.status)}`
  }
  if (event === 'task.progress' && typeof value.done !== 'number') return 'field done: expected a number'
  return undefined
}

/** Parses JSONL text; invalid lines are reported, never fatal (a crash can cut the last line). */
export function parseTaskLog(text: string): ParsedTaskLog {
  const events: TaskEvent[] = []
  const rejected: RejectedLine[] = []
  const lines = text.split('\n')
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === '') return
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      const cut = index === lines.length - 1
      rejected.push({
        line,
        reason: cut ? 'truncated last line (writer stopped mid-line)' : 'not valid JSON',
      })
      return
    }
    const reason = invalidReason(value)
    if (reason === undefined) events.push(value as TaskEvent)
    else rejected.push({ line, reason })
  })
  return { events, rejected }
}

/** Reads and parses a JSONL task log file; a missing or unreadable file is a TASK_LOG_UNREADABLE error. */
export async function readTaskLog(path: string): Promise<ParsedTaskLog> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new BackupError('TASK_LOG_UNREADABLE', `cannot read task log ${path}`, { cause: error })
  }
  return parseTaskLog(text)
}
