// Reading rows back: the database file may be hand-edited or damaged, so every column is checked
// against what we write and a bad row is a STORE_ROW_INVALID naming its table and id, never a
// TypeError three calls later.
import { tooDeepAt } from '../../shared/json.ts'
import type { Json, JsonObject } from '../../shared/json.ts'
import { EVENT_NAMES } from '../../tasks/events.ts'
import type { TaskEvent } from '../../tasks/events.ts'
import type { NotificationSettings, RunVmSummary } from '../model.ts'
import { StoreError } from './store-error.ts'

// Deeper than any record we write; past it, the recursive code after JSON.parse could overflow.
const MAX_JSON_DEPTH = 64

/** A row as better-sqlite3 returns it. */
export type Row = Readonly<Record<string, unknown>>

/** Typed accessors of one row's columns; each throws STORE_ROW_INVALID on a value we never write. */
export interface RowReader {
  text(column: string): string
  textOrNull(column: string): string | null
  int(column: string): number
  intOrNull(column: string): number | null
  flag(column: string): boolean
  oneOf<T extends string>(column: string, allowed: readonly T[]): T
  object(column: string): JsonObject
  array(column: string): readonly Json[]
  fail(why: string, cause?: unknown): StoreError
}

/** A RowReader of `row` of `table`; errors name the table and `id` (the row's `id` column by default). */
export function readRow(table: string, row: Row, id = row.id): RowReader {
  const name = typeof id === 'string' ? id : JSON.stringify(id)
  const fail = (why: string, cause?: unknown): StoreError =>
    new StoreError('STORE_ROW_INVALID', `row ${name} of table ${table} is invalid: ${why}`, {
      details: { table, id: name },
      cause,
    })
  const int = (column: string): number => {
    const value = row[column]
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw fail(`${column} is not an integer`)
    return value
  }
  const text = (column: string): string => {
    const value = row[column]
    if (typeof value !== 'string') throw fail(`${column} is not text`)
    return value
  }
  const json = (column: string): Json => {
    let value: unknown
    try {
      value = JSON.parse(text(column))
    } catch (error) {
      throw fail(`${column} is not JSON`, error)
    }
    const deep = tooDeepAt(value, MAX_JSON_DEPTH)
    if (deep !== undefined) throw fail(`${column} is nested too deep (at ${deep})`)
    return value as Json
  }
  return {
    text,
    int,
    textOrNull: (column) => (row[column] === null ? null : text(column)),
    intOrNull: (column) => (row[column] === null ? null : int(column)),
    flag(column) {
      const value = int(column)
      if (value !== 0 && value !== 1) throw fail(`${column} is not 0 or 1`)
      return value === 1
    },
    oneOf(column, allowed) {
      const value = text(column)
      const found = allowed.find((a) => a === value)
      if (found === undefined)
        throw fail(`${column} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}`)
      return found
    },
    object(column) {
      const value = json(column)
      if (!isObject(value)) throw fail(`${column} is not a JSON object`)
      return value
    },
    array(column) {
      const value = json(column)
      if (!Array.isArray(value)) throw fail(`${column} is not a JSON array`)
      return value as readonly Json[]
    },
    fail,
  }
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const VM_STATUSES = new Set(['success', 'failure', 'skipped', 'interrupted', 'pending'])

/** The per-VM summaries of a run's `vms` column. */
export function readVmSummaries(reader: RowReader, column: string): RunVmSummary[] {
  return reader.array(column).map((vm, index) => {
    const bad = (why: string): StoreError => reader.fail(`${column}[${index}] ${why}`)
    if (!isObject(vm)) throw bad('is not an object')
    if (typeof vm.uuid !== 'string') throw bad('has no uuid')
    if (typeof vm.status !== 'string' || !VM_STATUSES.has(vm.status)) throw bad('has no valid status')
    if (vm.name !== undefined && typeof vm.name !== 'string') throw bad('has a name that is not text')
    if (vm.error !== undefined && typeof vm.error !== 'string') throw bad('has an error that is not text')
    return vm as unknown as RunVmSummary
  })
}

/** The task event of a run_events row's `json` column (its name, task id and timestamp checked). */
export function readTaskEvent(reader: RowReader, column: string): TaskEvent {
  const event = reader.object(column)
  if (typeof event.event !== 'string' || !EVENT_NAMES.has(event.event))
    throw reader.fail('unknown event name')
  if (typeof event.id !== 'string') throw reader.fail('event without a task id')
  if (typeof event.timestamp !== 'number') throw reader.fail('event without a timestamp')
  return event as unknown as TaskEvent
}

const SECURITIES = new Set(['tls', 'starttls', 'none'])

/** The notification settings of the single notification_settings row. */
export function readNotificationSettings(reader: RowReader, column: string): NotificationSettings {
  const value = reader.object(column)
  const { webhooks, smtp } = value
  if (!Array.isArray(webhooks) || !webhooks.every((w) => isObject(w) && typeof w.url === 'string'))
    throw reader.fail('webhooks is not a list of { url }')
  if (smtp !== null) {
    const valid =
      isObject(smtp) &&
      typeof smtp.host === 'string' &&
      typeof smtp.port === 'number' &&
      typeof smtp.security === 'string' &&
      SECURITIES.has(smtp.security) &&
      typeof smtp.from === 'string' &&
      (smtp.username === undefined || typeof smtp.username === 'string') &&
      (smtp.allowUnauthorized === undefined || typeof smtp.allowUnauthorized === 'boolean')
    if (!valid) throw reader.fail('smtp is neither null nor { host, port, security, from }')
  }
  return value as unknown as NotificationSettings
}
