import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cli } from './testing/run-cli.ts'

const fixture = (name: string): string =>
  new URL(`../../test/fixtures/task-logs/${name}`, import.meta.url).pathname

describe('xapi-backup log show', () => {
  it('renders a backup log as a readable tree with durations, sizes, throughput and the run status', async () => {
    const { code, out, err } = await cli('log', 'show', fixture('delta-backup.jsonl'))
    assert.equal(code, 0)
    assert.equal(err, '')
    const lines = out.trimEnd().split('\n')
    assert.equal(lines[0], '✔ job mode=delta reportWhen=failure  9.5 s')
    assert.ok(lines.includes('│     ├─ ✔ transfer  7.5 s  3.00 GiB  409.60 MiB/s'), out)
    assert.ok(
      lines.includes('│          error: connection reset by XAPI [TRANSFER_FAILED] (cause: ECONNRESET)'),
      out,
    )
    assert.ok(lines.includes('│    reason: no disks found'), out)
    assert.equal(
      lines.filter((l) => l.includes('TRANSFER_FAILED')).length,
      1,
      'a rethrown error is shown once',
    )
    assert.equal(lines.at(-1), 'status: failure in 9.5 s, 2 warnings')
  })

  it('shows a log cut by a crash as interrupted and warns about the cut line', async () => {
    const { code, out, err } = await cli('log', 'show', fixture('interrupted.jsonl'))
    assert.equal(code, 0)
    assert.match(err, /interrupted\.jsonl:\d+: skipped: truncated last line/)
    assert.match(out, /^⚡ job mode=delta reportWhen=failure {2}\[interrupted\]$/m)
    assert.match(out, /└─ ⚡ transfer {2}\[interrupted\]$/m)
    assert.equal(out.trimEnd().split('\n').at(-1), 'status: interrupted, 2 warnings')
  })

  it('prints the rebuilt tree as JSON with computed run statuses', async () => {
    const { code, out } = await cli('log', 'show', '--json', fixture('delta-backup.jsonl'))
    assert.equal(code, 0)
    const parsed = JSON.parse(out) as {
      roots: { runStatus: string; status: string; tasks: { runStatus: string }[] }[]
    }
    assert.equal(parsed.roots.length, 1)
    assert.equal(parsed.roots[0]?.status, 'success')
    assert.equal(parsed.roots[0].runStatus, 'failure')
    assert.deepEqual(
      parsed.roots[0].tasks.map((t) => t.runStatus),
      ['success', 'failure', 'skipped', 'success'],
    )
  })

  it('fails clearly on a missing file', async () => {
    const { code, err } = await cli('log', 'show', '/nonexistent/run.jsonl')
    assert.equal(code, 1)
    assert.match(
      err,
      /^error: cannot read task log \/nonexistent\/run\.jsonl: ENOENT.*\[TASK_LOG_UNREADABLE\]$/m,
    )
  })

  it('answers --version and --help', async () => {
    const version = await cli('--version')
    assert.equal(version.code, 0)
    assert.match(version.out, /^\d+\.\d+\.\d+\n$/)
    const help = await cli('--help')
    assert.equal(help.code, 0)
    assert.match(help.out, /Usage: xapi-backup/)
    assert.match(help.out, /log +read task logs/)
  })
})
