import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  MAX_DESCRIPTION_BYTES,
  decodeDescription,
  formatOfFileName,
  parseDescriptionText,
} from './description-text.ts'
import { RunDescriptionError } from './run-description-error.ts'

const syntaxError = (message: string) => (e: unknown) =>
  e instanceof RunDescriptionError && e.code === 'RUN_DESCRIPTION_SYNTAX' && e.message === message

describe('formatOfFileName', () => {
  for (const [name, format] of [
    ['job.json', 'json'],
    ['JOB.JSON', 'json'],
    ['job.yaml', 'yaml'],
    ['job.yml', 'yaml'],
    ['job', 'yaml'],
  ] as const)
    it(`${name} is ${format}`, () => {
      assert.equal(formatOfFileName(name), format)
    })
})

describe('parseDescriptionText', () => {
  it('reads YAML and JSON into the same data', () => {
    const yaml = "job:\n  mode: delta # comment\n  vms: {tags: {__or: [[a], ['b']]}}\nschedule: {id: '1'}\n"
    const json =
      '{"job": {"mode": "delta", "vms": {"tags": {"__or": [["a"], ["b"]]}}}, "schedule": {"id": "1"}}'
    assert.deepEqual(
      parseDescriptionText(yaml, 'yaml', 'j.yaml'),
      parseDescriptionText(json, 'json', 'j.json'),
    )
  })

  it('reads YAML with the core schema: yes stays a string, 0x1F is a number', () => {
    assert.deepEqual(parseDescriptionText('a: yes\nb: 0x1F\nc: ~\n', 'yaml', 'j.yaml'), {
      a: 'yes',
      b: 31,
      c: null,
    })
  })

  it('expands a few aliases', () => {
    const text = 'base: &b {exportRetention: 3}\nother: *b\n'
    assert.deepEqual(parseDescriptionText(text, 'yaml', 'j.yaml'), {
      base: { exportRetention: 3 },
      other: { exportRetention: 3 },
    })
  })

  // [label, text, message]
  const yamlErrors: [string, string, string][] = [
    [
      'two documents',
      'a: 1\n---\nb: 2\n',
      'j.yaml:2:1: Source contains multiple documents; please use YAML.parseAllDocuments()',
    ],
    [
      'an unknown tag',
      'a: !!js/function f\n',
      'j.yaml:1:4: unknown tag (a value starting with ! is a YAML tag: quote it)',
    ],
    [
      'a duplicate key in a flow map',
      'a: {x: 1, x: 2}\n',
      'j.yaml:1:11: duplicate key (keys must be unique)',
    ],
    ['an unresolved alias', 'a: *nowhere\n', 'j.yaml:1:4: alias *nowhere names no anchor defined before it'],
    [
      'a billion laughs',
      `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(', ')}]`,
      ).join('\n')}\n`,
      'j.yaml: YAML: Excessive alias count indicates a resource exhaustion attack',
    ],
  ]
  for (const [label, text, message] of yamlErrors)
    it(`YAML: ${label}`, () => {
      assert.throws(() => parseDescriptionText(text, 'yaml', 'j.yaml'), syntaxError(message))
    })

  it('YAML: bounds nesting', () => {
    const deep = `${'['.repeat(200)}${']'.repeat(200)}`
    assert.throws(
      () => parseDescriptionText(deep, 'yaml', 'j.yaml'),
      (e: unknown) =>
        e instanceof RunDescriptionError && e.code === 'RUN_DESCRIPTION_SYNTAX' && /nested/.test(e.message),
    )
  })

  it('refuses a text over the size bound before parsing it', () => {
    const text = `a: "${'x'.repeat(MAX_DESCRIPTION_BYTES)}"`
    assert.throws(
      () => parseDescriptionText(text, 'yaml', 'j.yaml'),
      syntaxError(`j.yaml: larger than ${MAX_DESCRIPTION_BYTES} characters`),
    )
  })

  it('JSON errors carry file, line and column in details', () => {
    try {
      parseDescriptionText('{\n  "a": 1,\n}', 'json', 'j.json')
      assert.fail('no error')
    } catch (error) {
      assert.ok(error instanceof RunDescriptionError, 'error instanceof RunDescriptionError')
      assert.deepEqual(error.details, {
        file: 'j.json',
        line: 2,
        column: 9,
        problem: "trailing comma before '}' (JSON allows none)",
      })
    }
  })
})

describe('decodeDescription', () => {
  it('keeps a BOM so that JSON can name it', () => {
    assert.equal(decodeDescription(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'j.json'), '\uFEFF{}')
  })
  it('refuses invalid UTF-8', () => {
    assert.throws(
      () => decodeDescription(new Uint8Array([0x7b, 0xff, 0x7d]), 'j.json'),
      syntaxError('j.json: not valid UTF-8 text'),
    )
  })
  it('refuses more bytes than the bound', () => {
    assert.throws(
      () => decodeDescription(new Uint8Array(MAX_DESCRIPTION_BYTES + 1), 'j.json'),
      syntaxError(`j.json: larger than ${MAX_DESCRIPTION_BYTES} bytes (${MAX_DESCRIPTION_BYTES + 1})`),
    )
  })
})
