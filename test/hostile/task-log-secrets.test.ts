import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'

// A log written by hand (or by another tool): nothing redacted it on write.
const SECRETS = ['hunter2', 's3cret', 'OpaqueRef:bearer', 'AKIAxyz', 'Bearer zzz', 'tok123', 'pw0rd']
const LOG = [
  { event: 'job.start', id: 'j', timestamp: 0, data: { url: 'https://root:pw0rd@h/', password: 'hunter2' } },
  {
    event: 'task.start',
    id: 't',
    parentId: 'j',
    timestamp: 1,
    message: 'connect https://h/x?session_id=OpaqueRef:bearer',
    data: { type: 'remote', id: 'r1', credentials: { secretAccessKey: 'AKIAxyz' } },
  },
  { event: 'task.info', id: 't', timestamp: 2, message: 'GET https://h/x?user=a&password=s3cret' },
  { event: 'task.warning', id: 't', timestamp: 3, message: 'slow', data: { token: 'tok123' } },
  {
    event: 'task.end',
    id: 't',
    timestamp: 4,
    status: 'failure',
    result: { headers: { Authorization: 'Bearer zzz' } },
    error: {
      message: 'PUT https://h/x?password=s3cret failed',
      code: 'E',
      cause: { message: 'auth refused for https://admin:hunter2@h/', password: 'hunter2' },
    },
  },
  // An event about a task that never started (an orphan) and a rejected line quoting a secret.
  { event: 'task.info', id: 'ghost', timestamp: 5, message: 'https://h/?password=s3cret' },
  { event: 'task.bogus?password=s3cret', id: 'x', timestamp: 6 },
  { event: 'job.end', id: 'j', timestamp: 7, status: 'success' },
]

describe('log show: secrets in a log it did not write', () => {
  let dir = ''
  let path = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'task-log-secrets-'))
    path = join(dir, 'foreign.jsonl')
    await writeFile(path, `${LOG.map((e) => JSON.stringify(e)).join('\n')}\n`)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  for (const json of [false, true]) {
    it(`redacts every string when rendering ${json ? '--json' : 'text'}`, async () => {
      const { code, out, err } = await cli('log', 'show', ...(json ? ['--json'] : []), path)
      assert.equal(code, 0, err)
      for (const secret of SECRETS) {
        assert.equal(out.includes(secret), false, `${secret} leaked on stdout:\n${out}`)
        assert.equal(err.includes(secret), false, `${secret} leaked on stderr:\n${err}`)
      }
      const text = out + err
      assert.match(text, /password=\*{5}/)
      assert.match(text, /session_id=\*{5}/)
      assert.match(text, /root:\*{5}@h/)
      if (json) {
        const parsed = JSON.parse(out) as { orphans: unknown[]; rejected: unknown[] }
        assert.equal(parsed.orphans.length, 1)
        assert.equal(parsed.rejected.length, 1)
      } else {
        const error =
          'error: PUT https://h/x?password=***** failed [E] (cause: auth refused for https://admin:*****@h/)'
        assert.ok(out.includes(error), out)
      }
    })
  }
})
