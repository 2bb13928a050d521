import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { JsonTextError, lineColumn, parseJsonText } from './json-text.ts'

describe('parseJsonText', () => {
  const valid: [string, unknown][] = [
    ['{}', {}],
    [' [1, -2.5e3, true, false, null, "a\\u00e9\\n"] ', [1, -2500, true, false, null, 'aé\n']],
    ['{"a": {"b": []}, "c": ""}', { a: { b: [] }, c: '' }],
    ['0', 0],
  ]
  for (const [text, expected] of valid)
    it(`reads ${text}`, () => {
      assert.deepEqual(parseJsonText(text), expected)
    })

  it('keeps a "__proto__" field as data, not as the prototype', () => {
    const value = parseJsonText('{"__proto__": {"polluted": true}}') as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(value), Object.prototype)
    assert.deepEqual(Object.keys(value), ['__proto__'])
    assert.equal(({} as Record<string, unknown>).polluted, undefined)
  })

  // [text, message, offset]
  const invalid: [string, string, number][] = [
    ['\uFEFF{}', 'the file starts with a byte order mark (BOM): save it as UTF-8 without BOM', 0],
    ['{"a": 1,}', "trailing comma before '}' (JSON allows none)", 7],
    ['[1, 2 , ]', "trailing comma before ']' (JSON allows none)", 6],
    ['{"a": 1, "a": 2}', 'duplicate field "a" (first at line 1, column 2)', 9],
    ['{"a" 1}', "expected ':' after the field name", 5],
    ['{"a": 1 "b": 2}', "expected ',' or '}' after a field", 8],
    ['[1 2]', "expected ',' or ']' after an array item", 3],
    ["{'a': 1}", 'expected a field name in double quotes', 1],
    ["['a']", 'strings must be in double quotes', 1],
    ['/* c */ {}', 'comments are not allowed in JSON (YAML allows them)', 0],
    ['{"a": "x', 'unterminated string', 6],
    ['{"a": "x\\q"}', 'invalid string (a control character or a bad \\ escape)', 6],
    ['"tab\there"', 'invalid string (a control character or a bad \\ escape)', 0],
    ['01', 'invalid number', 0],
    ['1.', 'invalid number', 0],
    ['1e999', 'number out of range', 0],
    [
      'NaN',
      'expected a value (a string in double quotes, a number, an object, an array, true, false or null)',
      0,
    ],
    [
      '',
      'unexpected end of file; expected a value (a string in double quotes, a number, an object, an array, true, false or null)',
      0,
    ],
    ['{} {}', 'unexpected text after the end of the JSON document', 3],
    ['[[[1]]]', 'nested deeper than 2 levels', 2],
  ]
  for (const [text, message, offset] of invalid)
    it(`refuses ${JSON.stringify(text)}: ${message}`, () => {
      assert.throws(
        () => parseJsonText(text, 2),
        (e: unknown) => e instanceof JsonTextError && e.message === message && e.offset === offset,
      )
    })

  it('bounds nesting without exhausting the stack', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000)
    assert.throws(() => parseJsonText(deep), /nested deeper than 64 levels/)
  })
})

describe('lineColumn', () => {
  const cases: [string, number, number, number][] = [
    ['abc', 0, 1, 1],
    ['abc', 2, 1, 3],
    ['a\nbc', 2, 2, 1],
    ['a\nbc\n\nd', 6, 4, 1],
  ]
  for (const [text, offset, line, column] of cases)
    it(`${JSON.stringify(text)} @${offset} is ${line}:${column}`, () => {
      assert.deepEqual(lineColumn(text, offset), { line, column })
    })
})
