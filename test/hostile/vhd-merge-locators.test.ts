// Hostile parent references (issue: every path that comes from a file is confined). A VHD names its
// parent in its header: `vhd merge` follows it only to a regular file in the child's folder; a FIFO,
// socket or directory is never opened (a FIFO would block the open forever), by any command. Each
// case runs the real CLI in a child process and checks the error, and that no file changed.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { snapshotTree, writeTestChain } from '../../src/formats/vhd/testing/hostile-vhd.ts'
import { runBounded } from '../support/bounded-child.ts'

let root = ''
let count = 0

async function caseDirs(): Promise<{ base: string; work: string; outside: string }> {
  const base = join(root, `case-${count++}`)
  const work = join(base, 'work')
  const outside = join(base, 'outside')
  await mkdir(work, { recursive: true })
  await mkdir(outside)
  return { base, work, outside }
}

async function refused(
  base: string,
  args: string[],
  code: string,
  names: string,
): Promise<{ stdout: string; stderr: string }> {
  const before = await snapshotTree(base)
  const run = await runBounded('src/cli/main.ts', args, { timeoutMs: 30_000 })
  assert.equal(run.timedOut, false, `${args.join(' ')} ended on its own (a FIFO open blocks forever)`)
  assert.equal(run.status, 1, `exit 1, got ${run.status}: ${`${run.stdout}${run.stderr}`.slice(0, 500)}`)
  const output = `${run.stdout}${run.stderr}`
  assert.match(output, new RegExp(`\\[${code}\\]`), output.slice(0, 500))
  assert.ok(output.includes(names), `the error names ${names}: ${output.slice(0, 500)}`)
  assert.ok(output.length < 2000, `a bounded message (${output.length} chars)`)
  // The output file of to-raw is the only thing a refused command may leave behind.
  const after = await snapshotTree(base)
  delete after['work/out.raw']
  assert.deepEqual(after, before, 'nothing renamed, deleted or changed')
  return run
}

describe('vhd merge/check/to-raw: hostile parent references', { timeout: 300_000 }, () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostile-locators-'))
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('merge does not follow an absolute parent name', async () => {
    const { base, work, outside } = await caseDirs()
    const parent = join(outside, 'p.vhd')
    const [uuid] = await writeTestChain([{ path: parent }])
    await writeTestChain([{ path: join(work, 'child.vhd'), parentName: parent, parentUuid: uuid as string }])
    await refused(base, ['vhd', 'merge', join(work, 'child.vhd')], 'PATH_INVALID', parent)
  })

  it('merge does not follow a parent outside the child folder', async () => {
    const { base, work, outside } = await caseDirs()
    const [uuid] = await writeTestChain([{ path: join(outside, 'p.vhd') }])
    await writeTestChain([
      { path: join(work, 'child.vhd'), parentName: '../outside/p.vhd', parentUuid: uuid as string },
    ])
    await refused(base, ['vhd', 'merge', join(work, 'child.vhd')], 'PATH_ESCAPE', 'outside/p.vhd')
  })

  it('merge, check and to-raw refuse a FIFO named as parent without opening it', async () => {
    const { base, work } = await caseDirs()
    execFileSync('mkfifo', [join(work, 'pipe.vhd')])
    await writeTestChain([{ path: join(work, 'child.vhd'), parentName: 'pipe.vhd' }])
    const child = join(work, 'child.vhd')
    await refused(base, ['vhd', 'merge', child], 'PATH_NOT_REGULAR', 'pipe.vhd')
    await refused(base, ['vhd', 'check', child], 'PATH_NOT_REGULAR', 'pipe.vhd')
    await refused(base, ['vhd', 'to-raw', child, join(work, 'out.raw')], 'PATH_NOT_REGULAR', 'pipe.vhd')
  })

  it('merge and check refuse a directory named as parent', async () => {
    const { base, work } = await caseDirs()
    await mkdir(join(work, 'parent.vhd'))
    await writeTestChain([{ path: join(work, 'child.vhd'), parentName: 'parent.vhd' }])
    const child = join(work, 'child.vhd')
    await refused(base, ['vhd', 'merge', child], 'PATH_NOT_REGULAR', 'parent.vhd')
    await refused(base, ['vhd', 'check', child], 'PATH_NOT_REGULAR', 'parent.vhd')
  })

  it('refuses a parent loop, also one whose paths never repeat', async () => {
    const { base, work } = await caseDirs()
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()]
    await writeTestChain([
      { path: join(work, 'a.vhd'), uuid: a, parentName: 'b.vhd', parentUuid: b },
      { path: join(work, 'b.vhd'), uuid: b, parentName: 'a.vhd', parentUuid: a },
    ])
    await refused(base, ['vhd', 'merge', join(work, 'a.vhd')], 'VHD_INVALID', 'parent chain')
    // b.vhd now names loop/a.vhd, where loop -> '.': the paths never repeat (loop/loop/…), the UUIDs do.
    await rm(join(work, 'b.vhd'))
    await writeTestChain([{ path: join(work, 'b.vhd'), uuid: b, parentName: 'loop/a.vhd', parentUuid: a }])
    await symlink('.', join(work, 'loop'))
    const run = await refused(base, ['vhd', 'check', join(work, 'a.vhd')], 'VHD_INVALID', 'parent chain')
    assert.ok(`${run.stdout}${run.stderr}`.includes(a), 'names the repeated UUID')
  })
})
