import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'

/** Deterministic pseudo-random bytes (xorshift): a "binary file" with a newline now and then. */
function binary(length: number): Buffer {
  const out = Buffer.alloc(length)
  let x = 0x2545f491
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const SUMMARY = /not a task log: 20 of the first 20 lines are not task events.*\[TASK_LOG_INVALID\]/

describe('log show on a file that is not a task log', () => {
  let dir = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'task-log-not-a-log-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  const cases: [string, () => Promise<string>][] = [
    [
      'a services-like text file',
      async () => {
        const path = join(dir, 'services')
        const lines = ['# Network services, Internet style', '#']
        for (let port = 1; port < 5000; port++) lines.push(`svc${port}\t\t${port}/tcp\t\t\t# service ${port}`)
        await writeFile(path, `${lines.join('\n')}\n`)
        return path
      },
    ],
    [
      'a binary file',
      async () => {
        const path = join(dir, 'blob.bin')
        await writeFile(path, binary(8 * 1024 * 1024))
        return path
      },
    ],
    [
      'JSON lines that are not events',
      async () => {
        const path = join(dir, 'other.jsonl')
        const lines = Array.from({ length: 100_000 }, (_, i) =>
          JSON.stringify({ level: 'info', msg: `line ${i}` }),
        )
        await writeFile(path, `${lines.join('\n')}\n`)
        return path
      },
    ],
  ]
  if (existsSync('/etc/services')) cases.push(['/etc/services', () => Promise.resolve('/etc/services')])

  for (const [what, make] of cases) {
    it(`stops after 20 rejected lines with one summary and exit 1: ${what}`, async () => {
      const path = await make()
      for (const json of [false, true]) {
        const { code, out, err } = await cli('log', 'show', ...(json ? ['--json'] : []), path)
        assert.equal(code, 1)
        assert.equal(out, '')
        assert.match(err, SUMMARY)
        assert.ok(err.includes(path), err)
        assert.equal(err.trimEnd().split('\n').length, 1, `one line, not one per rejected line:\n${err}`)
      }
    })
  }

  it('still shows a real log with a few bad lines, printing at most 20 of them', async () => {
    const path = join(dir, 'noisy.jsonl')
    const lines = [JSON.stringify({ event: 'job.start', id: 'j', timestamp: 0, data: {} })]
    for (let i = 0; i < 60; i++) {
      lines.push(
        JSON.stringify({
          event: 'task.start',
          id: `t${i}`,
          parentId: 'j',
          timestamp: i,
          message: `step ${i}`,
        }),
      )
      lines.push(JSON.stringify({ event: 'task.end', id: `t${i}`, timestamp: i, status: 'success' }))
      if (i % 2 === 0) lines.push('garbage')
    }
    lines.push(JSON.stringify({ event: 'job.end', id: 'j', timestamp: 99, status: 'success' }))
    await writeFile(path, `${lines.join('\n')}\n`)
    const { code, out, err } = await cli('log', 'show', path)
    assert.equal(code, 0, err)
    assert.match(out, /status: success/)
    const warnings = err.trimEnd().split('\n')
    assert.equal(warnings.length, 21)
    assert.match(warnings.at(-1) ?? '', /noisy\.jsonl: 10 more line\(s\) skipped$/)
  })

  it('refuses a device or FIFO instead of reading it forever', async () => {
    const { code, err } = await cli('log', 'show', '/dev/zero')
    assert.equal(code, 1)
    assert.match(err, /\/dev\/zero.*not a regular file.*\[TASK_LOG_UNREADABLE\]/)
  })
})
