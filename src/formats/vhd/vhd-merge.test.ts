import assert from 'node:assert/strict'
import { mkdtemp, readdir, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { chainToRaw } from './conversions.ts'
import { DiskType } from './constants.ts'
import { mergeStatePath, writeMergeState } from './merge-state.ts'
import type { MergeStore } from './merge-store.ts'
import { localMergeStore } from './merge-store.ts'
import { LocalFile } from './random-access-file.ts'
import type { RandomAccessFile } from './random-access-file.ts'
import { assertSameBytes, collect, createRandom, randomInt } from './testing/random-disk.ts'
import { writeRandomChain } from './testing/random-chain.ts'
import { VhdChain } from './vhd-chain.ts'
import { mergeVhdChain } from './vhd-merge.ts'

const KiB = 1024
let root = ''
const open = (path: string) => LocalFile.open(path)

async function readTop(
  path: string,
): Promise<{ bytes: Uint8Array; uuid: string; type: number; depth: number }> {
  const chain = await VhdChain.open(path, open)
  try {
    return {
      bytes: await collect(chainToRaw(chain)),
      uuid: chain.top.uniqueId,
      type: chain.top.diskType,
      depth: chain.disks.length,
    }
  } finally {
    await chain.close()
  }
}

describe('VHD merge', () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'vhd-merge-'))
  })
  after(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('merges random chains of 1-10 deltas into the same bytes as reading the chain', async () => {
    const random = createRandom(2026)
    for (let run = 0; run < 12; run++) {
      const dir = await mkdtemp(join(root, 'chain-'))
      const blockSize = 64 * KiB
      // Some chains grow past the BAT's padded capacity (128 entries) so blocks must move.
      const chain = await writeRandomChain(random, {
        dir,
        deltas: randomInt(random, 1, 10),
        virtualSize: randomInt(random, 8, 160) * 4 * KiB,
        blockSize,
        growBytes: randomInt(random, 1, 40) * 64 * KiB,
      })
      const target = chain.paths.at(-1) as string
      const before = await readTop(target)
      assertSameBytes(before.bytes, chain.content, `chain read, run ${run}`)
      const children = await VhdChain.open(target, open, { until: chain.paths[0] as string })
      const stored = children.blockIndexes()
      await children.close()
      const result = await mergeVhdChain(localMergeStore, chain.paths)
      assert.equal(result.path, target)
      assert.deepEqual([result.mergedBlocks, result.mergedBytes], [stored.length, stored.length * blockSize])
      const merged = await readTop(target)
      assertSameBytes(merged.bytes, chain.content, `merged, run ${run}`)
      assert.equal(merged.uuid, before.uuid, 'the merged disk keeps the target UUID')
      assert.equal(merged.type, DiskType.dynamic)
      assert.equal(merged.depth, 1)
      assert.deepEqual(
        await readdir(dir),
        [target.slice(dir.length + 1)],
        'intermediates and the state file are gone',
      )
    }
  })

  it('merges part of a chain into a differencing ancestor (--into) and keeps the rest linked', async () => {
    const dir = await mkdtemp(join(root, 'into-'))
    const chain = await writeRandomChain(createRandom(9), {
      dir,
      deltas: 5,
      virtualSize: 3 * 64 * KiB + 512,
      blockSize: 64 * KiB,
    })
    await mergeVhdChain(localMergeStore, chain.paths.slice(2))
    const merged = await readTop(chain.paths.at(-1) as string)
    assertSameBytes(merged.bytes, chain.content)
    assert.equal(merged.depth, 3)
  })

  it('merges into a differencing parent whose own ancestors are not reachable', async () => {
    const dir = await mkdtemp(join(root, 'orphan-'))
    const chain = await writeRandomChain(createRandom(10), {
      dir,
      deltas: 3,
      virtualSize: 5 * 64 * KiB,
      blockSize: 64 * KiB,
    })
    const base = chain.paths[0] as string
    await rename(base, `${base}.away`)
    await mergeVhdChain(localMergeStore, chain.paths.slice(1))
    await rename(`${base}.away`, base)
    const merged = await readTop(chain.paths.at(-1) as string)
    assertSameBytes(merged.bytes, chain.content)
    assert.equal(merged.depth, 2)
  })

  it('costs I/O proportional to the child blocks, not to the parent size', async () => {
    const dir = await mkdtemp(join(root, 'cost-'))
    const blockSize = 64 * KiB
    const chain = await writeRandomChain(createRandom(5), {
      dir,
      deltas: 1,
      virtualSize: 4 * 1024 * KiB,
      blockSize,
      extentsPerDisk: 40,
    })
    const child = await VhdChain.open(chain.paths[1] as string, open, { until: chain.paths[0] as string })
    const childBlocks = child.top.blockIndexes().length
    await child.close()
    const counted = { read: 0, written: 0 }
    const store: MergeStore = {
      ...localMergeStore,
      async open(path, mode) {
        const file = await localMergeStore.open(path, mode)
        if (path !== chain.paths[0]) return file
        return countingFile(file, counted)
      },
    }
    await mergeVhdChain(store, chain.paths)
    assert.ok(childBlocks > 0 && counted.written > 0, 'childBlocks > 0 && counted.written > 0')
    const perBlock = 512 + blockSize
    // Metadata: footers, header, BAT (<= 4 KiB each way); each child block costs at most one read and one write.
    assert.ok(
      counted.written <= childBlocks * (perBlock + 512 + 4) + 4 * KiB,
      `wrote ${counted.written} for ${childBlocks} blocks`,
    )
    assert.ok(
      counted.read <= childBlocks * perBlock + 8 * KiB,
      `read ${counted.read} for ${childBlocks} blocks`,
    )
  })

  it('resumes from a state file left at the cleanup step and refuses a state for another chain', async () => {
    const dir = await mkdtemp(join(root, 'resume-'))
    const chain = await writeRandomChain(createRandom(77), {
      dir,
      deltas: 2,
      virtualSize: 256 * KiB,
      blockSize: 64 * KiB,
    })
    const before = await readTop(chain.paths[2] as string)
    await mergeVhdChain(localMergeStore, chain.paths)
    // Simulate a crash after the rename: the state still says cleanup, the intermediate is still there.
    await writeMergeState(localMergeStore, mergeStatePath(chain.paths[0] as string), {
      parent: { uuid: crypto.randomUUID() },
      child: { uuid: before.uuid },
      chain: ['d00.vhd', 'd01.vhd', 'd02.vhd'],
      currentBlock: 0,
      mergedDataSize: 0,
      step: 'cleanup',
    })
    await rm(chain.paths[1] as string, { force: true })
    await assert.rejects(
      mergeVhdChain(localMergeStore, [chain.paths[0] as string, chain.paths[2] as string]),
      { code: 'VHD_MERGE_STATE' },
    )
    await mergeVhdChain(localMergeStore, chain.paths)
    assertSameBytes((await readTop(chain.paths[2] as string)).bytes, chain.content)
    assert.deepEqual(await readdir(dir), ['d02.vhd'])
  })
})

function countingFile(file: RandomAccessFile, counted: { read: number; written: number }): RandomAccessFile {
  return {
    name: file.name,
    size: () => file.size(),
    async read(offset, length) {
      const bytes = await file.read(offset, length)
      counted.read += bytes.length
      return bytes
    },
    async write(offset, data) {
      counted.written += data.length
      await file.write?.(offset, data)
    },
    sync: async () => file.sync?.(),
    close: async () => file.close?.(),
  }
}
