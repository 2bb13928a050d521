import { fullBitmap, isSectorSet } from './bat.ts'
import type { MergedBlock } from './block-content.ts'
import { readMergedBlock } from './block-content.ts'
import { DiskType, SECTOR_SIZE } from './constants.ts'
import type { MergeContext } from './merge-scope.ts'
import { confineIn, scopedParentResolver } from './merge-scope.ts'
import type { MergeState } from './merge-state.ts'
import { writeMergeState } from './merge-state.ts'
import { VhdChain } from './vhd-chain.ts'
import { fail } from './vhd-error.ts'
import { VhdFile } from './vhd-file.ts'
import { VhdInPlaceWriter } from './vhd-in-place-writer.ts'

/** Progress options of the block pass (see MergeOptions). */
export interface BlockPassOptions {
  readonly stateEveryBlocks?: number
  readonly onProgress?: (done: number, total: number) => void
}

/**
 * The `mergeBlocks` step: proves the files are the recorded chain (paths, UUIDs and links), then
 * copies every child block from `currentBlock` on into the parent, advancing the state file, and
 * writes the parent's footers last with the target's UUID and size (docs/formats/vhd.md).
 */
export async function mergeBlocks(
  context: MergeContext,
  chain: readonly string[],
  statePath: string,
  initial: MergeState,
  options: BlockPassOptions,
): Promise<{ blocks: number; mergedDataSize: number }> {
  const { store } = context
  const parentPath = chain[0] as string
  // Nothing is opened before every recorded path is proven a regular file in the scope.
  for (const [i, path] of chain.entries())
    await confineIn(context, path, { file: statePath, field: `chain[${i}]` })
  const children = await openChildren(context, chain, statePath)
  let parent: VhdFile
  try {
    const file = await store.open(parentPath, 'write')
    parent = await VhdFile.open(file, { ignoreFooterCopy: true }).catch(async (error: unknown) => {
      await file.close?.()
      throw error
    })
  } catch (error) {
    await children.close()
    throw error
  }
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

/**
 * Opens the children (target first) through the scoped resolver, at most the recorded depth, and
 * checks they are exactly the recorded intermediates, the last one naming the recorded parent.
 */
async function openChildren(
  context: MergeContext,
  chain: readonly string[],
  statePath: string,
): Promise<VhdChain> {
  const resolveParent = scopedParentResolver(context)
  const children = await VhdChain.open(chain.at(-1) as string, (path) => context.store.open(path, 'read'), {
    maxDepth: chain.length - 1,
    resolveParent,
  })
  try {
    const bottom = children.disks.at(-1) as VhdFile
    const bottomPath = children.paths.at(-1) as string
    const next = bottom.isDifferencing
      ? await resolveParent(bottomPath, bottom.header?.parentUnicodeName ?? '', bottom)
      : '(none: not a delta)'
    const expected = chain.slice().reverse()
    const actual = [...children.paths, next]
    if (expected.join('\n') !== actual.join('\n'))
      fail('VHD_MERGE_STATE', statePath, 0, 'chain', expected.join(' -> '), actual.join(' -> '))
    return children
  } catch (error) {
    await children.close()
    throw error
  }
}

function checkIdentities(parent: VhdFile, children: VhdChain, state: MergeState, parentPath: string): void {
  if (parent.blockSize !== children.blockSize)
    fail(
      'VHD_UNSUPPORTED',
      parentPath,
      parent.footer.dataOffset + 32,
      'header.blockSize',
      `${children.blockSize} (as the children)`,
      parent.blockSize,
    )
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
