import { describe } from 'node:test'
import type { BadDescription } from './testing/bad-descriptions.ts'
import { JOB, XAPI_SECRET, testBadDescriptions } from './testing/bad-descriptions.ts'

// Syntax mistakes in a run description file: each gives file:line:column and the problem, and
// never quotes the document (the password line is the one most often broken).
const SYNTAX = 'RUN_DESCRIPTION_SYNTAX'
const cases: BadDescription[] = [
  {
    label: 'a YAML syntax error (line and column)',
    file: 'job.yaml',
    text: `job:\n  id: ${JOB}\n  mode: [full\nschedule: {id: daily}\n`,
    code: SYNTAX,
    message: 'job.yaml:4:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
  },
  {
    label: 'an unterminated YAML quote on the password line',
    file: 'job.yaml',
    text: `xapis:\n  p:\n    credentials:\n      password: "${XAPI_SECRET}\n`,
    code: SYNTAX,
    message: 'job.yaml:5:1: Missing closing "quote',
  },
  {
    label: 'YAML duplicate keys',
    file: 'job.yml',
    text: 'schedule: {id: daily}\njob:\n  mode: full\n  mode: delta\n',
    code: SYNTAX,
    message: 'job.yml:4:3: duplicate key (keys must be unique)',
  },
  {
    label: 'YAML tab indentation',
    file: 'job.yaml',
    text: 'job:\n\tmode: full\n',
    code: SYNTAX,
    message: 'job.yaml:2:1: Tabs are not allowed as indentation',
  },
  {
    label: 'JSON duplicate keys',
    text: '{\n  "job": {},\n  "job": {}\n}',
    code: SYNTAX,
    message: 'job.json:3:3: duplicate field "job" (first at line 2, column 3)',
  },
  {
    label: 'JSON with a byte order mark',
    text: '\uFEFF{"job": {}}',
    code: SYNTAX,
    message: 'job.json:1:1: the file starts with a byte order mark (BOM): save it as UTF-8 without BOM',
  },
  {
    label: 'JSON with a trailing comma',
    text: '{\n  "schedule": {"id": "daily"},\n}',
    code: SYNTAX,
    message: "job.json:2:30: trailing comma before '}' (JSON allows none)",
  },
  {
    label: 'JSON with a comment',
    text: '{\n  // nightly\n}',
    code: SYNTAX,
    message: 'job.json:2:3: comments are not allowed in JSON (YAML allows them)',
  },
  {
    label: 'JSON with an unquoted password',
    text: `{"xapis": {"p": {"credentials": {"password": ${XAPI_SECRET}}}}}`,
    code: SYNTAX,
    message:
      'job.json:1:46: expected a value (a string in double quotes, a number, an object, an array, true, false or null)',
  },
  {
    label: 'JSON with an unterminated password string',
    text: `{"xapis": {"p": {"credentials": {"password": "${XAPI_SECRET}\n}}}}`,
    code: SYNTAX,
    message: 'job.json:1:46: unterminated string',
  },
  {
    label: 'an unquoted password starting with ! (a YAML tag)',
    file: 'job.yaml',
    text: `xapis:\n  p:\n    credentials:\n      password: !${XAPI_SECRET}\n`,
    code: SYNTAX,
    message: 'job.yaml:4:17: unknown tag (a value starting with ! is a YAML tag: quote it)',
  },
  {
    label: 'a password glued to a block scalar indicator',
    file: 'job.yaml',
    text: `xapis:\n  p:\n    credentials:\n      password: |${XAPI_SECRET}\n        x\n`,
    code: SYNTAX,
    message: 'job.yaml:4:18: Block scalar header includes extra characters',
  },
  {
    label: 'a bad escape inside a double-quoted password',
    file: 'job.yaml',
    text: `password: "${XAPI_SECRET}\\q"\n`,
    code: SYNTAX,
    message: 'job.yaml:1:26: invalid \\ escape in a double-quoted string',
  },
  {
    label: 'a directive line that is not one',
    file: 'job.yaml',
    text: `%YAML ${XAPI_SECRET}\n---\nschedule: {id: daily}\n`,
    code: SYNTAX,
    message: 'job.yaml:1:7: bad directive (a value starting with % is a YAML directive: quote it)',
  },
]

describe('run description: bad syntax corpus', () => {
  testBadDescriptions(cases)
})
