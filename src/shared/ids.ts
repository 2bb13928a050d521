import { randomBytes, randomUUID } from 'node:crypto'
import { BackupError } from './errors.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** True when `value` is a canonical 8-4-4-4-12 hex UUID (any version). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value)
}

/** Returns `value` if it is a UUID; otherwise throws INVALID_UUID naming `what` and the value. */
export function assertUuid(value: unknown, what: string): string {
  if (!isUuid(value)) {
    throw new BackupError('INVALID_UUID', `${what}: expected a UUID, got ${JSON.stringify(value)}`)
  }
  return value
}

/** A new random (v4) UUID. */
export function newUuid(): string {
  return randomUUID()
}

/** A short unique id for tasks and temp names: sortable by time, then random. */
export function newTaskId(nowMs: number): string {
  return `${nowMs.toString(36).padStart(9, '0')}-${randomBytes(5).toString('hex')}`
}
