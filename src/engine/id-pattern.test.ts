import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ValuePattern } from './id-pattern.ts'
import { checkPattern, idsOfPattern, matchesPattern, patternOfIds } from './id-pattern.ts'
import { RunDescriptionError } from './run-description-error.ts'

describe('matchesPattern (value-matcher semantics)', () => {
  // [label, pattern, value, matches]
  const cases: [string, ValuePattern, unknown, boolean][] = [
    ['a primitive equals strictly', 'a', 'a', true],
    ['no coercion', 1, '1', false],
    ['null matches null only', null, undefined, false],
    ['an object matches field by field', { id: 'x' }, { id: 'x', other: 1 }, true],
    ['a missing field fails', { id: 'x' }, { other: 1 }, false],
    ['an object pattern against a primitive fails', { id: 'x' }, 'x', false],
    ['__or: one of', { id: { __or: ['x', 'y'] } }, { id: 'y' }, true],
    ['__or: none of', { id: { __or: ['x', 'y'] } }, { id: 'z' }, false],
    ['__and: all of', { __and: [{ a: 1 }, { b: 2 }] }, { a: 1, b: 2 }, true],
    ['__and: one fails', { __and: [{ a: 1 }, { b: 2 }] }, { a: 1, b: 3 }, false],
    ['__not', { power_state: { __not: 'Halted' } }, { power_state: 'Running' }, true],
    ['__not of a match', { power_state: { __not: 'Halted' } }, { power_state: 'Halted' }, false],
    ['__not on a missing field still fails (the field must exist)', { tags: { __not: ['x'] } }, {}, false],
    ['an array pattern: the array holds all of them', { tags: ['a', 'b'] }, { tags: ['b', 'c', 'a'] }, true],
    ['an array pattern: one is missing', { tags: ['a', 'b'] }, { tags: ['a'] }, false],
    ['an array pattern against a non-array', { tags: ['a'] }, { tags: 'a' }, false],
    ['an empty array pattern matches any array', { tags: [] }, { tags: [] }, true],
    ['tags {__or: [[a], [b]]}: has a', { tags: { __or: [['a'], ['b']] } }, { tags: ['a'] }, true],
    ['tags {__or: [[a], [b]]}: has neither', { tags: { __or: [['a'], ['b']] } }, { tags: ['c'] }, false],
    [
      "XO's pools in and out: {__and: [{__or: [in]}, {__not: {__or: [out]}}]}",
      { $pool: { __and: [{ __or: ['p1', 'p2'] }, { __not: { __or: ['p2'] } }] } },
      { $pool: 'p1' },
      true,
    ],
    [
      "XO's pools in and out: the excluded pool",
      { $pool: { __and: [{ __or: ['p1', 'p2'] }, { __not: { __or: ['p2'] } }] } },
      { $pool: 'p2' },
      false,
    ],
    ['inherited properties do not count', { toString: 'x' }, {}, false],
  ]
  for (const [label, pattern, value, expected] of cases)
    it(label, () => {
      assert.equal(matchesPattern(pattern, value), expected)
    })
})

const anyLeaf = (): void => undefined
const invalid = (message: string) => (e: unknown) =>
  e instanceof RunDescriptionError && e.code === 'RUN_DESCRIPTION_INVALID' && e.message === message

describe('checkPattern', () => {
  it('accepts nested operators and passes leaves to the check', () => {
    const leaves: unknown[] = []
    checkPattern({ __and: [{ __or: ['a', 'b'] }, { __not: 'c' }] }, ['p'], (leaf) => leaves.push(leaf))
    assert.deepEqual(leaves, ['a', 'b', 'c'])
  })

  const cases: [string, unknown, string][] = [
    ['__or not an array', { __or: 'a' }, 'p.__or: expected an array of patterns, got "a"'],
    ['__and empty', { __and: [] }, 'p.__and: expected at least one pattern, got an empty array'],
    [
      'operator with a sibling',
      { __or: ['a'], b: 1 },
      'p: expected __or as the only key of its object, got other keys beside it',
    ],
    [
      'unknown operator',
      { __xor: ['a'] },
      'p.__xor: expected an operator among __and, __or or __not, got an unknown one',
    ],
    ['error inside __not', { __not: { __or: 3 } }, 'p.__not.__or: expected an array of patterns, got 3'],
  ]
  for (const [label, pattern, message] of cases)
    it(label, () => {
      assert.throws(() => checkPattern(pattern, ['p'], anyLeaf), invalid(message))
    })

  it('bounds nesting', () => {
    let deep: unknown = 'a'
    for (let i = 0; i < 100; i++) deep = { __not: deep }
    assert.throws(() => checkPattern(deep, ['p'], anyLeaf), /nested at most 16 levels/)
  })
})

describe('idsOfPattern', () => {
  const valid: [unknown, string[]][] = [
    [{ id: 'a' }, ['a']],
    [{ id: { __or: ['a', 'b', 'a'] } }, ['a', 'b']],
  ]
  for (const [pattern, ids] of valid)
    it(`${JSON.stringify(pattern)} gives ${ids.join(', ')}`, () => {
      assert.deepEqual(idsOfPattern(pattern, ['job', 'remotes']), ids)
    })

  const invalidCases: [unknown, string][] = [
    ['a', `job.remotes: expected an IdPattern {id: 'x'} or {id: {__or: ['x', 'y']}}, got "a"`],
    [
      { id: 'a', name: 'b' },
      `job.remotes.name: expected an IdPattern {id: 'x'} or {id: {__or: ['x', 'y']}} (only the field id), got another field`,
    ],
    [{ id: '' }, 'job.remotes.id: expected a non-empty id string, got ""'],
    [{ id: { __and: ['a'] } }, "job.remotes.id: expected an id string or {__or: ['x', 'y']}, got an object"],
    [{ id: { __or: [] } }, 'job.remotes.id.__or: expected at least one id, got an empty array'],
    [{ id: { __or: ['a', 3] } }, 'job.remotes.id.__or[1]: expected a non-empty id string, got 3'],
    [{}, "job.remotes.id: expected an id string or {__or: ['x', 'y']}, got nothing"],
  ]
  for (const [pattern, message] of invalidCases)
    it(`refuses ${JSON.stringify(pattern)}`, () => {
      assert.throws(() => idsOfPattern(pattern, ['job', 'remotes']), invalid(message))
    })

  it('patternOfIds is its inverse', () => {
    for (const ids of [['a'], ['a', 'b']]) assert.deepEqual(idsOfPattern(patternOfIds(ids), []), ids)
  })
})
