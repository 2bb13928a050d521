import assert from 'node:assert/strict'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { finished } from 'node:stream/promises'
import { after, before, describe, it } from 'node:test'
import { runBounded } from '../support/bounded-child.ts'

const DEPTH = 100_000
// Measured: about 190 MiB for the 200,000 events and their tree; a runaway walk would go far above.
const MAX_RSS = 512 * 1024 * 1024

/** A job whose tasks each start under the previous one, 100,000 deep; the deepest one fails. */
async function writeChain(path: string): Promise<void> {
  const out = createWriteStream(path)
  const line = (event: object): void => {
    out.write(`${JSON.stringify(event)}\n`)
  }
  line({ event: 'job.start', id: 'job', timestamp: 0, data: { mode: 'delta' } })
  for (let i = 0; i < DEPTH; i++)
    line({
      event: 'task.start',
      id: `t${i}`,
      parentId: i === 0 ? 'job' : `t${i - 1}`,
      timestamp: i,
      message: `step ${i}`,
    })
  line({ event: 'task.warning', id: `t${DEPTH - 1}`, timestamp: DEPTH, message: 'deep warning' })
  for (let i = DEPTH - 1; i >= 0; i--)
    line({
      event: 'task.end',
      id: `t${i}`,
      timestamp: 2 * DEPTH - i,
      status: i === DEPTH - 1 ? 'failure' : 'success',
      ...(i === DEPTH - 1 ? { error: { message: 'the deepest step failed' } } : {}),
    })
  line({ event: 'job.end', id: 'job', timestamp: 3 * DEPTH, status: 'success' })
  out.end()
  await finished(out)
}

describe('log show: a task chain 100,000 deep', () => {
  let dir = ''
  let path = ''
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'task-log-chain-'))
    path = join(dir, 'chain.jsonl')
    await writeChain(path)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it(
    'renders as text: the top levels, one summary line for the rest, the status of the whole',
    { timeout: 120_000 },
    async () => {
      const run = await runBounded('src/cli/main.ts', ['log', 'show', path], {
        timeoutMs: 100_000,
        maxOldSpaceMiB: 1024,
      })
      assert.equal(run.timedOut, false)
      assert.equal(run.status, 0, run.stderr.slice(0, 2000))
      const lines = run.stdout.trimEnd().split('\n')
      assert.ok(lines.length < 50, `${lines.length} lines`)
      assert.ok(
        lines.every((l) => l.length < 200),
        'no line carries a 100,000-level prefix',
      )
      assert.match(
        run.stdout,
        /└─ … 99968 tasks nested deeper than 32 levels not shown \(counted in the status\)/,
      )
      // The failure and the warning 100,000 levels down still decide the summary.
      assert.equal(lines.at(-1), 'status: failure in 5 min 00 s, 1 warning')
      assert.ok(run.maxRssBytes !== undefined && run.maxRssBytes < MAX_RSS, `RSS ${run.maxRssBytes}`)
    },
  )

  it(
    'prints --json cut at the same depth, with every run status computed',
    { timeout: 120_000 },
    async () => {
      const run = await runBounded('src/cli/main.ts', ['log', 'show', '--json', path], {
        timeoutMs: 100_000,
        maxOldSpaceMiB: 1024,
      })
      assert.equal(run.timedOut, false)
      assert.equal(run.status, 0, run.stderr.slice(0, 2000))
      type Node = { id: string; runStatus: string; tasks: Node[]; nestedTasksNotShown?: number }
      const { roots } = JSON.parse(run.stdout) as { roots: Node[] }
      let node = roots[0]
      assert.equal(node?.runStatus, 'failure')
      let depth = 0
      while (node !== undefined && node.tasks.length > 0) {
        assert.equal(node.runStatus, 'failure', node.id)
        node = node.tasks[0]
        depth++
      }
      assert.equal(depth, 32)
      assert.equal(node?.nestedTasksNotShown, 99_968)
      assert.ok(run.maxRssBytes !== undefined && run.maxRssBytes < MAX_RSS, `RSS ${run.maxRssBytes}`)
    },
  )
})
