// Crash test of the merge (issue 3): a child process runs the merge and is SIGKILLed at a chosen
// mutating operation (some torn in half); rerunning the merge must always end with the right content.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { chainToRaw } from './conversions.ts'
import { localMergeStore } from './merge-store.ts'
import { LocalFile } from './random-access-file.ts'
import { writeRandomChain } from './testing/random-chain.ts'
import { assertSameBytes, collect, createRandom, randomInt } from './testing/random-disk.ts'
import { VhdChain } from './vhd-chain.ts'
import { inspectVhd } from './vhd-inspect.ts'
import { mergeVhdChain } from './vhd-merge.ts'

const CHILD = fileURLToPath(new URL('testing/merge-crash-child.ts', import.meta.url))
const KiB = 1024
let root = ''

function runChild(chain: string[], killAfter: number): { signal: NodeJS.Signals | null; operations: number } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(chain)], {
    env: { ...process.env, KILL_AFTER: String(killAfter) },
    encoding: 'utf8',
  })
  if (result.signal === null && result.status !== 0) throw new Error(`merge child failed: ${result.stderr}`)
  return { signal: result.signal, operations: Number(result.stdout.trim()) }
}

describe('VHD merge crash safety', () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'vhd-crash-'))
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('resumes to the right content after SIGKILL at 20 random points', async () => {
    const random = createRandom(20260101)
    const pristine = join(root, 'pristine')
    await cp(await mkdtemp(join(root, 'x-')), pristine, { recursive: true })
    // Grows from 20 to up to 260 blocks: the BAT outgrows its sector, so blocks move too.
    const chain = await writeRandomChain(random, {
      dir: pristine,
      deltas: 6,
      virtualSize: 20 * 16 * KiB,
      blockSize: 16 * KiB,
      growBytes: 80 * 16 * KiB,
      extentsPerDisk: 8,
    })
    const names = chain.paths.map((p) => p.slice(pristine.length + 1))
    const dry = join(root, 'dry')
    await cp(pristine, dry, { recursive: true })
    const { operations: total } = runChild(
      names.map((n) => join(dry, n)),
      0,
    )
    assert.ok(total > 20, `a merge does ${total} mutating operations`)
    for (let trial = 0; trial < 20; trial++) {
      const dir = join(root, `trial-${trial}`)
      await cp(pristine, dir, { recursive: true })
      const paths = names.map((n) => join(dir, n))
      const killAt = randomInt(random, 1, total)
      assert.equal(runChild(paths, killAt).signal, 'SIGKILL', `trial ${trial} killed at ${killAt}`)
      // Every third trial crashes a second time during the resume.
      if (trial % 3 === 0) runChild(paths, randomInt(random, 1, Math.max(1, total >> 1)))
      await mergeVhdChain(localMergeStore, paths)
      const target = paths.at(-1) as string
      const file = await LocalFile.open(target)
      assert.deepEqual(
        (await inspectVhd(file)).issues,
        [],
        `trial ${trial} (kill at ${killAt}): a sound file`,
      )
      await file.close()
      const merged = await VhdChain.open(target, (p) => LocalFile.open(p))
      assertSameBytes(await collect(chainToRaw(merged)), chain.content, `trial ${trial} (kill at ${killAt})`)
      assert.equal(merged.disks.length, 1)
      await merged.close()
      assert.deepEqual(await readdir(dir), [names.at(-1)])
    }
  })
})
