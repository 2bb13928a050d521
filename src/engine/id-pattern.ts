// IdPattern (seed "API > IdPattern") with value-matcher semantics (xen-orchestra-backups.md §11):
// a primitive matches by strict equality; an object matches when every field matches (a missing
// field fails); an array matches an array value holding, for each sub-pattern, some matching
// element; `{__and: […]}`, `{__or: […]}` and `{__not: p}` combine (only as the object's sole key).
import type { UncheckedObject } from './fields.ts'
import { isPlainObject, listOf } from './fields.ts'
import type { FieldPath } from './run-description-error.ts'
import { invalidField, invalidRelation } from './run-description-error.ts'

/** A checked value-matcher pattern (operators well formed, depth bounded). */
export type ValuePattern =
  string | number | boolean | null | readonly ValuePattern[] | { readonly [key: string]: ValuePattern }

/** The seed's IdPattern: `{id: 'x'}` or `{id: {__or: ['x', 'y']}}`. */
export type IdPattern = { readonly id: string | { readonly __or: readonly string[] } }

const OPERATORS = ['__and', '__or', '__not'] as const
const MAX_PATTERN_DEPTH = 16

const operatorOf = (pattern: UncheckedObject): string | undefined =>
  Object.keys(pattern).find((key) => key.startsWith('__'))

/** True when `value` matches `pattern` (value-matcher semantics, see the file comment). */
export function matchesPattern(pattern: ValuePattern, value: unknown): boolean {
  if (Array.isArray(pattern)) {
    const items = value
    return (
      Array.isArray(items) &&
      (pattern as readonly ValuePattern[]).every((sub) => items.some((item) => matchesPattern(sub, item)))
    )
  }
  if (pattern === null || typeof pattern !== 'object') return pattern === value
  const object = pattern as { readonly [key: string]: ValuePattern }
  const and = object.__and
  if (Array.isArray(and)) return (and as readonly ValuePattern[]).every((sub) => matchesPattern(sub, value))
  const or = object.__or
  if (Array.isArray(or)) return (or as readonly ValuePattern[]).some((sub) => matchesPattern(sub, value))
  if (Object.hasOwn(object, '__not')) return !matchesPattern(object.__not ?? null, value)
  if (!isPlainObject(value)) return false
  return Object.entries(object).every(
    ([key, sub]) => Object.hasOwn(value, key) && value[key] !== undefined && matchesPattern(sub, value[key]),
  )
}

/** Checks one leaf (a non-operator sub-pattern) of a property; throws the error naming `path`. */
export type LeafCheck = (leaf: unknown, path: FieldPath) => void

/**
 * Checks `pattern` as a value-matcher pattern whose leaves (everything that is not an operator)
 * pass `leaf`; operators must be the only key of their object, `__and`/`__or` take a non-empty
 * array, nesting is bounded. Returns the pattern typed.
 */
export function checkPattern(pattern: unknown, path: FieldPath, leaf: LeafCheck, depth = 0): ValuePattern {
  if (depth > MAX_PATTERN_DEPTH)
    throw invalidRelation(path, `a pattern nested at most ${MAX_PATTERN_DEPTH} levels`, 'deeper nesting')
  if (isPlainObject(pattern)) {
    const operator = operatorOf(pattern)
    if (operator !== undefined) {
      if (!(OPERATORS as readonly string[]).includes(operator))
        throw invalidRelation(
          [...path, operator],
          `an operator among ${listOf([...OPERATORS])}`,
          'an unknown one',
        )
      if (Object.keys(pattern).length !== 1)
        throw invalidRelation(path, `${operator} as the only key of its object`, 'other keys beside it')
      const operand = pattern[operator]
      if (operator === '__not') {
        checkPattern(operand, [...path, operator], leaf, depth + 1)
      } else {
        if (!Array.isArray(operand)) throw invalidField([...path, operator], 'an array of patterns', operand)
        if (operand.length === 0)
          throw invalidRelation([...path, operator], 'at least one pattern', 'an empty array')
        operand.forEach((sub, i) => checkPattern(sub, [...path, operator, i], leaf, depth + 1))
      }
      return pattern as ValuePattern
    }
  }
  leaf(pattern, path)
  return pattern as ValuePattern
}

/**
 * Checks the seed's simple IdPattern (`{id: 'x'}` or `{id: {__or: [...]}}`), the only form XO
 * accepts for remotes and SRs, and returns the ids in order, without duplicates.
 */
export function idsOfPattern(pattern: unknown, path: FieldPath): readonly string[] {
  const expected = "an IdPattern {id: 'x'} or {id: {__or: ['x', 'y']}}"
  if (!isPlainObject(pattern)) throw invalidField(path, expected, pattern)
  for (const key of Object.keys(pattern))
    if (key !== 'id')
      throw invalidRelation([...path, key], `${expected} (only the field id)`, 'another field')
  const id = pattern.id
  const checkId = (value: unknown, at: FieldPath): string => {
    if (typeof value !== 'string' || value === '') throw invalidField(at, 'a non-empty id string', value)
    return value
  }
  if (typeof id === 'string') return [checkId(id, [...path, 'id'])]
  if (!isPlainObject(id) || Object.keys(id).length !== 1 || !Object.hasOwn(id, '__or'))
    throw invalidField([...path, 'id'], "an id string or {__or: ['x', 'y']}", id)
  const or = id.__or
  if (!Array.isArray(or)) throw invalidField([...path, 'id', '__or'], 'an array of id strings', or)
  if (or.length === 0) throw invalidRelation([...path, 'id', '__or'], 'at least one id', 'an empty array')
  const ids = or.map((item, i) => checkId(item, [...path, 'id', '__or', i]))
  return [...new Set(ids)]
}

/** The IdPattern selecting exactly `ids` (what XO writes back after resolving a smart pattern). */
export function patternOfIds(ids: readonly string[]): IdPattern {
  return ids.length === 1 && ids[0] !== undefined ? { id: ids[0] } : { id: { __or: [...ids] } }
}
