// Hostile BAT sizes (issue: declared sizes are checked before allocating). A header that declares a
// huge BAT in a sparse file must end `vhd info|check|to-raw` with a clean error naming the field, in
// bounded memory, never a native abort; a legit 2 TiB disk with a 1M-entry (4 MiB) BAT still reads.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { writeCraftedVhd } from '../../src/formats/vhd/testing/hostile-vhd.ts'
import type { BoundedRun } from '../support/bounded-child.ts'
import { runBounded } from '../support/bounded-child.ts'

const MiB = 1024 * 1024
const TiB = 1024 ** 4
const RSS_LIMIT = 200 * MiB
let dir = ''

async function cli(args: string[]): Promise<BoundedRun & { output: string }> {
  const run = await runBounded('src/cli/main.ts', args, { timeoutMs: 60_000 })
  assert.equal(run.timedOut, false, `${args.join(' ')} ended on its own`)
  assert.equal(run.signal, null, `${args.join(' ')}: no native abort (${run.stderr.slice(0, 500)})`)
  assert.ok(
    run.maxRssBytes !== undefined && run.maxRssBytes < RSS_LIMIT,
    `${args.join(' ')}: peak RSS ${run.maxRssBytes} < ${RSS_LIMIT}`,
  )
  return { ...run, output: `${run.stdout}${run.stderr}` }
}

async function assertRefused(path: string, field: RegExp, expected: RegExp, got: string): Promise<void> {
  for (const args of [
    ['vhd', 'info', path],
    ['vhd', 'check', path],
    ['vhd', 'to-raw', path, `${path}.raw`],
  ]) {
    const run = await cli(args)
    assert.equal(run.status, 1, `${args.join(' ')}: exit 1 (${run.output.slice(0, 500)})`)
    assert.match(run.output, field, run.output.slice(0, 500))
    assert.match(run.output, expected, run.output.slice(0, 500))
    assert.ok(run.output.includes(`got ${got}`), run.output.slice(0, 500))
  }
}

describe('VHD BAT bounds', { timeout: 300_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostile-bat-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses 2^29 BAT entries for an 8 MiB disk (a 2 GiB BAT in a sparse file)', async () => {
    const path = join(dir, 'huge-bat.vhd')
    await writeCraftedVhd(path, { virtualSize: 8 * MiB, blockSize: 2 * MiB, maxTableEntries: 2 ** 29 })
    await assertRefused(path, /header\.maxTableEntries/, /expected <= 1048576/, String(2 ** 29))
  })

  it('refuses 2^29 entries even when the size matches (2 TiB in 4 KiB blocks)', async () => {
    const path = join(dir, 'small-blocks.vhd')
    await writeCraftedVhd(path, { virtualSize: 2 * TiB, blockSize: 4096, maxTableEntries: 2 ** 29 })
    await assertRefused(path, /header\.maxTableEntries/, /expected <= 4194304/, String(2 ** 29))
  })

  it('refuses a BAT that runs past the end of the file', async () => {
    const path = join(dir, 'short.vhd')
    // A 1M-entry BAT (4 MiB) declared in a file of 6 KiB.
    await writeCraftedVhd(path, {
      virtualSize: 2 * TiB,
      blockSize: 2 * MiB,
      maxTableEntries: 2 ** 20,
      fileSize: 6144,
    })
    await assertRefused(path, /header\.maxTableEntries/, /expected BAT within the file/, 'BAT ends at')
  })

  it('still reads a legit 2 TiB disk with 2 MiB blocks (1M-entry, 4 MiB BAT) in bounded memory', async () => {
    const path = join(dir, 'legit-2tib.vhd')
    await writeCraftedVhd(path, {
      virtualSize: 2 * TiB,
      blockSize: 2 * MiB,
      maxTableEntries: 2 ** 20,
      unusedBatBytes: 4 * MiB,
    })
    const info = await cli(['vhd', 'info', '--json', path])
    assert.equal(info.status, 0, info.output)
    const parsed = JSON.parse(info.stdout) as { maxTableEntries: number; virtualSize: number }
    assert.deepEqual([parsed.maxTableEntries, parsed.virtualSize], [2 ** 20, 2 * TiB])
    const check = await cli(['vhd', 'check', path])
    assert.equal(check.status, 0, check.output)
  })
})
