// Hostile merge state files (issue: state read from disk is confined and verified). A resumed
// `vhd merge` follows the `chain` of `.<parent>.merge.json`: every entry must be a regular file in
// the child's folder, reached without symlinks, with the identity the state recorded. Each case runs
// the real CLI in a child process and checks the error names the code and the path, and that no
// file anywhere under the test root changed (so nothing was renamed or deleted, canaries included).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { snapshotTree, writeStateFile, writeTestChain } from '../../src/formats/vhd/testing/hostile-vhd.ts'
import { runBounded } from '../support/bounded-child.ts'

let root = ''
let count = 0

interface Case {
  readonly work: string
  readonly uuids: string[]
}

/** A folder `work-N` with p.vhd <- child.vhd, and a canary `victim` beside it (outside the folder). */
async function setUp(): Promise<Case> {
  const base = join(root, `case-${count++}`)
  const work = join(base, 'work')
  await mkdir(work, { recursive: true })
  await writeFile(join(base, 'victim'), 'precious data outside the chain folder\n')
  const uuids = await writeTestChain([{ path: join(work, 'p.vhd') }, { path: join(work, 'child.vhd') }])
  return { work, uuids }
}

async function mergeRefused(
  work: string,
  code: string,
  names: string,
): Promise<{ stderr: string; stdout: string }> {
  const base = join(work, '..')
  const before = await snapshotTree(base)
  const run = await runBounded('src/cli/main.ts', ['vhd', 'merge', join(work, 'child.vhd')], {
    timeoutMs: 30_000,
  })
  assert.equal(run.timedOut, false, 'the merge ended on its own')
  assert.equal(run.status, 1, `exit 1, got ${run.status}: ${`${run.stdout}${run.stderr}`.slice(0, 500)}`)
  assert.match(run.stderr, new RegExp(`\\[${code}\\]`), run.stderr.slice(0, 500))
  assert.ok(run.stderr.includes(names), `the error names ${names}: ${run.stderr.slice(0, 500)}`)
  assert.deepEqual(await snapshotTree(base), before, 'nothing renamed, deleted or changed')
  return run
}

describe('vhd merge: hostile merge state files', { timeout: 180_000 }, () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'hostile-merge-state-'))
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('refuses a chain entry that climbs out of the folder (../victim)', async () => {
    const { work, uuids } = await setUp()
    await writeStateFile(work, 'p.vhd', {
      parent: uuids[0] as string,
      child: uuids[1] as string,
      chain: ['p.vhd', '../victim', 'child.vhd'],
      step: 'cleanup',
    })
    await mergeRefused(work, 'PATH_ESCAPE', '../victim')
  })

  it('refuses an absolute chain entry', async () => {
    const { work, uuids } = await setUp()
    const victim = join(work, '..', 'victim')
    await writeStateFile(work, 'p.vhd', {
      parent: uuids[0] as string,
      child: uuids[1] as string,
      chain: ['p.vhd', victim, 'child.vhd'],
      step: 'cleanup',
    })
    await mergeRefused(work, 'PATH_INVALID', victim)
  })

  it('refuses a chain entry reached through a symlinked folder', async () => {
    const { work, uuids } = await setUp()
    const elsewhere = join(work, '..', 'elsewhere')
    await mkdir(elsewhere)
    await writeTestChain([{ path: join(elsewhere, 'mid.vhd') }])
    await symlink('../elsewhere', join(work, 'link'))
    await writeStateFile(work, 'p.vhd', {
      parent: uuids[0] as string,
      child: uuids[1] as string,
      chain: ['p.vhd', 'link/mid.vhd', 'child.vhd'],
      step: 'cleanup',
    })
    await mergeRefused(work, 'PATH_SYMLINK', 'link/mid.vhd')
  })

  it('refuses a FIFO in the chain without opening it', async () => {
    const { work, uuids } = await setUp()
    execFileSync('mkfifo', [join(work, 'pipe.vhd')])
    await writeStateFile(work, 'p.vhd', {
      parent: uuids[0] as string,
      child: uuids[1] as string,
      chain: ['p.vhd', 'pipe.vhd', 'child.vhd'],
      step: 'cleanup',
    })
    await mergeRefused(work, 'PATH_NOT_REGULAR', 'pipe.vhd')
  })

  it('refuses a chain member whose UUID and parent link are not the recorded chain (blocks step)', async () => {
    const { work, uuids } = await setUp()
    await writeTestChain([{ path: join(work, 'other.vhd') }])
    await writeStateFile(work, 'p.vhd', {
      parent: uuids[0] as string,
      child: uuids[1] as string,
      chain: ['p.vhd', 'other.vhd', 'child.vhd'],
      step: 'mergeBlocks',
    })
    await mergeRefused(work, 'VHD_MERGE_STATE', 'other.vhd')
  })

  it('refuses to delete an unrelated VHD listed as an intermediate after the rename (cleanup step)', async () => {
    const { work, uuids } = await setUp()
    // The state of a merge whose parent was already renamed over the child: only child.vhd remains,
    // now a dynamic disk with the child's UUID; other.vhd never linked to the recorded parent.
    await rm(join(work, 'p.vhd'))
    await rm(join(work, 'child.vhd'))
    await writeTestChain([{ path: join(work, 'child.vhd'), uuid: uuids[1] as string }])
    await writeTestChain([{ path: join(work, 'other.vhd') }])
    await writeStateFile(work, 'p.vhd', {
      parent: uuids[0] as string,
      child: uuids[1] as string,
      chain: ['p.vhd', 'other.vhd', 'child.vhd'],
      step: 'cleanup',
    })
    await mergeRefused(work, 'VHD_MERGE_STATE', 'other.vhd')
  })
})
