import { posix } from 'node:path'
import { fullBitmap, isSectorSet } from './bat.ts'
import type { MergedBlock } from './block-content.ts'
import { readMergedBlock } from './block-content.ts'
import { DiskType, SECTOR_SIZE } from './constants.ts'
import type { MergeState } from './merge-state.ts'
import { mergeStatePath, readMergeState, writeMergeState } from './merge-state.ts'
import type { MergeStore } from './merge-store.ts'
import { VhdChain } from './vhd-chain.ts'
import { fail } from './vhd-error.ts'
import { VhdFile } from './vhd-file.ts'
import { VhdInPlaceWriter } from './vhd-in-place-writer.ts'

/** Options of mergeVhdChain. */
export interface MergeOptions {
  /** Blocks merged between two state file writes (a resume redoes at most this many; default 256). */
  readonly stateEveryBlocks?: number
  readonly onProgress?: (done: number, total: number) => void
}

/** What a merge did: the final path (the child's), blocks and bytes copied, and whether it resumed. */
export interface MergeResult {
  readonly path: string
  readonly mergedBlocks: number
  readonly mergedBytes: number
  readonly resumed: boolean
}

/**
 * Folds `chain` = [parent, child1, …, target] into the parent in place, then gives the result the
 * target's name and footer UUID (XO semantics, xen-orchestra-backups.md §3.5) and deletes the
 * intermediate children. I/O is proportional to the children's stored blocks. A state file written
 * before any destructive step makes it resumable: calling it again after a crash (or calling
 * resumeVhdMerge) finishes the job. docs/formats/vhd.md gives the crash-safety argument.
 */
export async function mergeVhdChain(
  store: MergeStore,
  paths: readonly string[],
  options: MergeOptions = {},
): Promise<MergeResult> {
  const chain = paths.map((p) => posix.normalize(p))
  const parentPath = chain[0]
  const targetPath = chain.at(-1)
  if (parentPath === undefined || targetPath === undefined || chain.length < 2) {
    return fail(
      'VHD_BAD_ARGUMENT',
      'merge',
      0,
      'chain',
      'a parent and at least one child',
      JSON.stringify(chain),
    )
  }
  const statePath = mergeStatePath(parentPath)
  const existing = await readMergeState(store, statePath)
  if (existing !== undefined) {
    const recorded = existing.chain.map((p) => posix.join(posix.dirname(statePath), p))
    if (recorded.join('\n') !== chain.join('\n')) {
      fail('VHD_MERGE_STATE', statePath, 0, 'chain', chain.join(', '), recorded.join(', '))
    }
    return runMerge(store, recorded, statePath, existing, true, options)
  }
  const state = await planMerge(store, chain, statePath)
  await writeMergeState(store, statePath, state)
  return runMerge(store, chain, statePath, state, false, options)
}

/** Finishes the interrupted merge into `parentPath`, if its state file exists; undefined otherwise. */
export async function resumeVhdMerge(
  store: MergeStore,
  parentPath: string,
  options: MergeOptions = {},
): Promise<MergeResult | undefined> {
  const statePath = mergeStatePath(parentPath)
  const state = await readMergeState(store, statePath)
  if (state === undefined) return undefined
  const chain = state.chain.map((p) => posix.join(posix.dirname(statePath), p))
  return runMerge(store, chain, statePath, state, true, options)
}

async function planMerge(
  store: MergeStore,
  chain: readonly string[],
  statePath: string,
): Promise<MergeState> {
  const opener = (path: string) => store.open(path, 'read')
  const top = await VhdChain.open(chain.at(-1) as string, opener, { maxDepth: chain.length })
  try {
    const expected = chain.slice().reverse()
    const actual = top.paths.slice(0, chain.length).map((p) => posix.normalize(p))
    if (expected.map((p) => posix.normalize(p)).join('\n') !== actual.join('\n')) {
      fail(
        'VHD_BAD_ARGUMENT',
        chain.at(-1) as string,
        0,
        'chain',
        `ancestors ${expected.slice(1).join(', ')}`,
        actual.slice(1).join(', '),
      )
    }
    const parent = top.disks[chain.length - 1] as VhdFile
    const dir = posix.dirname(statePath)
    return {
      parent: { uuid: parent.uniqueId },
      child: { uuid: top.top.uniqueId },
      chain: chain.map((p) => posix.relative(dir, p)),
      currentBlock: 0,
      mergedDataSize: 0,
      step: 'mergeBlocks',
    }
  } finally {
    await top.close()
  }
}

async function runMerge(
  store: MergeStore,
  chain: readonly string[],
  statePath: string,
  initial: MergeState,
  resumed: boolean,
  options: MergeOptions,
): Promise<MergeResult> {
  let state = initial
  const targetPath = chain.at(-1) as string
  let mergedBlocks = 0
  if (state.step === 'mergeBlocks') {
    const merged = await mergeBlocks(store, chain, statePath, state, options)
    mergedBlocks = merged.blocks
    state = { ...state, step: 'cleanup', mergedDataSize: merged.mergedDataSize }
    await writeMergeState(store, statePath, state)
  }
  const parentPath = chain[0] as string
  // Rename first: from this instant the target path holds the merged disk, so the kept backup
  // stays readable; the intermediate children are then unreferenced and can go.
  if (await store.exists(parentPath)) await store.rename(parentPath, targetPath)
  for (const path of chain.slice(1, -1)) await store.delete(path)
  await store.delete(statePath)
  return { path: targetPath, mergedBlocks, mergedBytes: state.mergedDataSize, resumed }
}

async function mergeBlocks(
  store: MergeStore,
  chain: readonly string[],
  statePath: string,
  initial: MergeState,
  options: MergeOptions,
): Promise<{ blocks: number; mergedDataSize: number }> {
  const parentPath = chain[0] as string
  const targetPath = chain.at(-1) as string
  const children = await VhdChain.open(targetPath, (path) => store.open(path, 'read'), { until: parentPath })
  const parent = await VhdFile.open(await store.open(parentPath, 'write'), { ignoreFooterCopy: true })
  try {
    checkIdentities(parent, children, initial, parentPath)
    const writer = await VhdInPlaceWriter.open(parent)
    await writer.ensureBatSize(
      Math.max(
        ...children.disks.map((d) => d.blockCount),
        Math.ceil(children.virtualSize / parent.blockSize),
      ),
    )
    const indexes = children.blockIndexes().filter((i) => i >= initial.currentBlock)
    const every = options.stateEveryBlocks ?? 256
    let state = initial
    let done = 0
    for (const index of indexes) {
      await mergeBlock(writer, await readMergedBlock(children.disks, index), index)
      done++
      state = { ...state, mergedDataSize: state.mergedDataSize + parent.blockSize }
      options.onProgress?.(done, indexes.length)
      if (done % every === 0) {
        // Durable data before the state that says it is done (a resume skips blocks below currentBlock).
        await writer.sync()
        state = { ...state, currentBlock: index + 1 }
        await writeMergeState(store, statePath, state)
      }
    }
    const target = children.top.footer
    await writer.sync()
    await writer.writeFooter({
      ...parent.footer,
      currentSize: target.currentSize,
      originalSize: target.originalSize,
      geometry: target.geometry,
      timestamp: target.timestamp,
      uniqueId: target.uniqueId,
    })
    await writer.sync()
    return { blocks: done, mergedDataSize: state.mergedDataSize }
  } finally {
    await parent.close()
    await children.close()
  }
}

function checkIdentities(parent: VhdFile, children: VhdChain, state: MergeState, parentPath: string): void {
  // After the footer write (and before the cleanup step is recorded) the parent already carries the child's UUID.
  if (parent.uniqueId !== state.parent.uuid && parent.uniqueId !== state.child.uuid) {
    fail(
      'VHD_MERGE_STATE',
      parentPath,
      68,
      'footer.uniqueId',
      `${state.parent.uuid} (merge state)`,
      parent.uniqueId,
    )
  }
  const bottom = children.disks.at(-1) as VhdFile
  if (bottom.header?.parentUniqueId !== state.parent.uuid) {
    fail(
      'VHD_PARENT_MISMATCH',
      children.paths.at(-1) ?? '',
      bottom.footer.dataOffset + 40,
      'header.parentUniqueId',
      state.parent.uuid,
      String(bottom.header?.parentUniqueId),
    )
  }
  if (children.top.uniqueId !== state.child.uuid) {
    fail(
      'VHD_MERGE_STATE',
      children.paths[0] ?? '',
      68,
      'footer.uniqueId',
      `${state.child.uuid} (merge state)`,
      children.top.uniqueId,
    )
  }
}

async function mergeBlock(writer: VhdInPlaceWriter, child: MergedBlock, index: number): Promise<void> {
  const parent = writer.disk
  const dynamic = parent.diskType !== DiskType.differencing
  const { blockSize } = parent
  if (child.complete) {
    await writer.writeBlock(index, fullBitmap(blockSize), child.data)
    return
  }
  const sectors = blockSize / SECTOR_SIZE
  let data = child.data
  const bitmap = dynamic ? fullBitmap(blockSize) : new Uint8Array(parent.bitmapSize)
  if (parent.hasBlock(index)) {
    const old = await parent.readBlock(index)
    data = old.data
    for (let s = 0; s < sectors; s++) {
      const range = [s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE] as const
      if (child.defined[s] === 1) data.set(child.data.subarray(...range), range[0])
      else if (!isSectorSet(old.bitmap, s)) {
        // Unset in a dynamic parent reads as zero: write the zeros so the full bitmap stays true.
        if (dynamic) data.fill(0, ...range)
        continue
      }
      if (!dynamic) bitmap[s >> 3] = (bitmap[s >> 3] ?? 0) | (0x80 >> (s & 7))
    }
    if (!dynamic) for (let i = 0; i < bitmap.length; i++) bitmap[i] = (bitmap[i] ?? 0) | (old.bitmap[i] ?? 0)
  } else if (!dynamic) {
    for (let s = 0; s < sectors; s++)
      if (child.defined[s] === 1) bitmap[s >> 3] = (bitmap[s >> 3] ?? 0) | (0x80 >> (s & 7))
  }
  await writer.writeBlock(index, bitmap, data)
}
