// Hostile VHD headers and chains (issue: declared sizes and links are cross-checked): a chain deeper
// than the bound, a differencing disk that names no parent, a parent whose UUID does not match, a
// parent locator whose length or offset lies, and absurd block sizes all end in a precise error
// (code, file, field, expected, got), without touching any file.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { MAX_CHAIN_LENGTH } from '../../src/formats/vhd/constants.ts'
import type { ChainDisk } from '../../src/formats/vhd/testing/hostile-vhd.ts'
import { snapshotTree, writeCraftedVhd, writeTestChain } from '../../src/formats/vhd/testing/hostile-vhd.ts'

const MiB = 1024 * 1024
const W2RU = 0x57327275
let dir = ''
let count = 0

async function caseDir(): Promise<string> {
  const path = join(dir, `case-${count++}`)
  await mkdir(path)
  return path
}

async function assertCheckFails(path: string, code: string, pattern: RegExp): Promise<string> {
  const run = await cli('vhd', 'check', path)
  const output = `${run.out}${run.err}`
  assert.equal(run.code, 1, output.slice(0, 500))
  assert.match(output, new RegExp(`\\[${code}\\]`), output.slice(0, 500))
  assert.match(output, pattern, output.slice(0, 500))
  assert.ok(output.length < 2000, `a bounded message (${output.length} chars)`)
  return output
}

describe('VHD header and chain bounds', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostile-chain-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it(`refuses a chain deeper than ${MAX_CHAIN_LENGTH} levels with a short message`, async () => {
    const work = await caseDir()
    const disks: ChainDisk[] = Array.from({ length: MAX_CHAIN_LENGTH + 4 }, (_, i) => ({
      path: join(work, `d${String(i).padStart(4, '0')}.vhd`),
    }))
    await writeTestChain(disks, 64 * 1024, false)
    const top = disks.at(-1)?.path as string
    await assertCheckFails(top, 'VHD_INVALID', /parent chain: expected at most 1024 levels/)
  })

  it('refuses a differencing disk that names no parent (it would open its own folder)', async () => {
    const work = await caseDir()
    await writeTestChain([{ path: join(work, 'child.vhd'), parentName: '' }])
    await assertCheckFails(join(work, 'child.vhd'), 'VHD_INVALID', /header\.parentUnicodeName: expected/)
  })

  it('refuses a parent whose UUID does not match, and merges nothing', async () => {
    const work = await caseDir()
    await writeTestChain([{ path: join(work, 'p.vhd') }])
    await writeTestChain([
      { path: join(work, 'child.vhd'), parentName: 'p.vhd', parentUuid: crypto.randomUUID() },
    ])
    await assertCheckFails(join(work, 'child.vhd'), 'VHD_PARENT_MISMATCH', /header\.parentUniqueId/)
    const before = await snapshotTree(work)
    const merge = await cli('vhd', 'merge', join(work, 'child.vhd'))
    assert.equal(merge.code, 1)
    assert.match(merge.err, /\[VHD_PARENT_MISMATCH\]/)
    assert.deepEqual(await snapshotTree(work), before)
  })

  it('refuses a parent locator that declares a huge length or lies past the end of the file', async () => {
    const work = await caseDir()
    const base = { virtualSize: 2 * MiB, blockSize: 2 * MiB, maxTableEntries: 1, unusedBatBytes: 512 }
    const locator = { platformCode: W2RU, dataSpace: 1, dataLength: 0xfffffff0, dataOffset: 2048 }
    await writeCraftedVhd(join(work, 'length.vhd'), {
      ...base,
      fileSize: 3072,
      header: { parentLocators: [locator] },
    })
    await assertCheckFails(
      join(work, 'length.vhd'),
      'VHD_INVALID',
      /header\.parentLocators\[0\]\.dataLength: expected <= 512 .*got 4294967280/,
    )
    await writeCraftedVhd(join(work, 'offset.vhd'), {
      ...base,
      header: { parentLocators: [{ ...locator, dataLength: 24, dataOffset: 2 ** 40 }] },
    })
    await assertCheckFails(
      join(work, 'offset.vhd'),
      'VHD_TRUNCATED',
      /header\.parentLocators\[0\]\.dataOffset/,
    )
  })

  it('refuses a block size of 0, not a power of two, or absurd', async () => {
    const work = await caseDir()
    for (const blockSize of [0, 3 * 4096, 2 ** 31]) {
      const path = join(work, `bs-${blockSize}.vhd`)
      await writeCraftedVhd(path, {
        virtualSize: 2 * MiB,
        blockSize,
        maxTableEntries: 1,
        unusedBatBytes: 512,
      })
      await assertCheckFails(
        path,
        'VHD_INVALID',
        new RegExp(`header\\.blockSize: expected .*got ${blockSize}`),
      )
    }
  })
})
