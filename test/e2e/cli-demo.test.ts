// `xapi-backup demo` (what `npm start` runs) as a new user sees it: one process that starts the
// simulator, backs up (to a remote and, continuous replication, to an SR), lists, checks, restores
// a backup as a new VM and verifies its disks, prints the task logs and what to try next, exits 0
// and leaves nothing running. The restore's log is checked against the seed's restore tree.
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { runCliProcess } from './cli-support.ts'
import type { CliProcessRun } from './cli-support.ts'

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', () => {
      resolve(true)
    })
  })
}

describe('xapi-backup demo', () => {
  let dir: string
  let run: CliProcessRun
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-demo-'))
    run = await runCliProcess(['demo', '--dir', join(dir, 'demo')], { timeoutMs: 600_000 })
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('runs every step, ends with exit 0 and the commands to try next', { timeout: 660_000 }, () => {
    assert.equal(run.timedOut, false, 'the demo ends on its own')
    assert.equal(run.status, 0, run.stderr + run.stdout)
    const out = run.stdout
    for (const heading of [
      '== delta job, run 1',
      '== guests wrote 5% of their blocks; delta job, run 2',
      '== full job',
      '== the repository ==',
      '== restore ==',
      '== what to try next ==',
    ])
      assert.ok(out.includes(heading), `the output shows "${heading}"\n${out}`)
    // Three runs and the restore, each with its task tree (plain lines, stdout is not a TTY) and a summary.
    assert.equal(out.match(/status: success/g)?.length, 4, out)
    assert.match(out, /Continuous Replication; start blocked: true/)
    assert.match(
      out,
      /restored VM: db-01 \(\d{8}T\d{6}Z\) \([0-9a-f-]{36}\), tags [^\n]*restored from backup/,
    )
    assert.match(out, /transfer/)
    assert.match(out, /equal to the snapshot disk it was backed up from/)
    assert.match(out, /check: no findings/)
    assert.doesNotMatch(out + run.stderr, /DIFFERENT|error:/)
  })

  it('leaves its files where it says, the simulator stopped', { timeout: 120_000 }, async () => {
    const demo = join(dir, 'demo')
    const files = await readdir(demo)
    for (const name of ['delta-job.yaml', 'full-job.yaml', 'delta-1.jsonl', 'delta-2.jsonl', 'full-1.jsonl'])
      assert.ok(files.includes(name), `${name} in ${files.join(', ')}`)
    assert.equal((await stat(join(demo, 'xapi-password'))).mode & 0o077, 0, 'the password file is private')
    const port = Number(/simulator: https?:\/\/127\.0\.0\.1:(\d+)/.exec(run.stdout)?.[1])
    assert.ok(port > 0, 'the simulator URL is printed')
    assert.equal(await refused(port), true, 'nothing listens on the simulator port any more')
    // The jsonl logs are the seed's: job.start first, job.end last.
    const events = (await readFile(join(demo, 'delta-2.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event: string })
    assert.equal(events[0]?.event, 'job.start')
    assert.equal(events.at(-1)?.event, 'job.end')
  })

  it("the restore's log is the seed's restore tree", { timeout: 60_000 }, async () => {
    const events = (await readFile(join(dir, 'demo', 'restore.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    const starts = events.filter((e) => e.event === 'task.start')
    const root = starts.find((e) => e.parentId === undefined)
    assert.equal(root?.message, 'restore')
    const data = root.data as Record<string, unknown>
    assert.deepEqual(Object.keys(data).sort(), ['backupId', 'jobId', 'srId', 'time'])
    const transfer = starts.find((e) => e.message === 'transfer')
    assert.ok(transfer !== undefined, 'a transfer task')
    assert.equal(transfer.parentId, root.id)
    const end = events.find((e) => e.event === 'task.end' && e.id === transfer.id)
    assert.equal(end?.status, 'success')
    const result = end.result as { id?: unknown; size?: unknown }
    assert.match(String(result.id), /^[0-9a-f-]{36}$/)
    assert.ok(typeof result.size === 'number' && result.size > 0, 'the transfer result has a size')
  })
})
