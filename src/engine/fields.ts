// Small typed readers over parsed JSON/YAML: each either returns the value with its type or throws
// the one-line RUN_DESCRIPTION_INVALID error naming the field (run-description-error.ts).
import type { FieldPath } from './run-description-error.ts'
import { invalidField, invalidRelation } from './run-description-error.ts'

/** A parsed JSON/YAML object whose fields are not checked yet. */
export type UncheckedObject = Readonly<Record<string, unknown>>

/** True for a plain object (not null, not an array). */
export function isPlainObject(value: unknown): value is UncheckedObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `value` as an object, or the error naming `path`. */
export function objectAt(value: unknown, path: FieldPath, expected = 'an object'): UncheckedObject {
  if (!isPlainObject(value)) throw invalidField(path, expected, value)
  return value
}

/** Own field `key` of `object` (undefined when absent; inherited properties never count). */
export function fieldOf(object: UncheckedObject, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined
}

/** Throws for the first field of `object` not in `known`; the message lists the known ones. */
export function rejectUnknownFields(
  object: UncheckedObject,
  path: FieldPath,
  known: readonly string[],
): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key))
      throw invalidRelation([...path, key], `one of the fields ${known.join(', ')}`, 'an unknown field')
  }
}

/** A string field; non-empty unless `allowEmpty`; values of `hidden` fields never appear in errors. */
export function stringAt(
  value: unknown,
  path: FieldPath,
  options: { readonly allowEmpty?: boolean; readonly hidden?: boolean } = {},
): string {
  const hidden = options.hidden === true ? { hidden: true } : {}
  if (typeof value !== 'string') throw invalidField(path, 'a string', value, hidden)
  if (value === '' && options.allowEmpty !== true) throw invalidField(path, 'a non-empty string', value)
  return value
}

/** A boolean field, `fallback` when absent. */
export function booleanAt(value: unknown, path: FieldPath, fallback?: boolean): boolean {
  if (value === undefined && fallback !== undefined) return fallback
  if (typeof value !== 'boolean') throw invalidField(path, 'true or false', value)
  return value
}

/** An integer >= `min` (a string of digits is refused: `"3"` is a typing mistake worth naming). */
export function integerAt(value: unknown, path: FieldPath, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const expected = min === 0 ? 'a non-negative integer' : `an integer >= ${min}`
    throw invalidField(path, expected, value)
  }
  return value
}

/** A finite number >= 0. */
export function nonNegativeNumberAt(value: unknown, path: FieldPath): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw invalidField(path, 'a non-negative number', value)
  return value
}

/** One of `values` (strings), named in the error as `'a', 'b' or 'c'`. */
export function oneOfAt<T extends string>(value: unknown, path: FieldPath, values: readonly T[]): T {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value))
    throw invalidField(path, listOf(values.map((v) => `'${v}'`)), value)
  return value as T
}

/** An array of non-empty strings. */
export function stringArrayAt(value: unknown, path: FieldPath): readonly string[] {
  if (!Array.isArray(value)) throw invalidField(path, 'an array of strings', value)
  return value.map((item, i) => stringAt(item, [...path, i]))
}

/** `a`, `a or b`, `a, b or c`. */
export function listOf(items: readonly string[]): string {
  if (items.length <= 1) return items.join('')
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`
}
