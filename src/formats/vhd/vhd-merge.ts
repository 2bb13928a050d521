import { posix } from 'node:path'
import { mergeBlocks } from './merge-blocks.ts'
import type { BlockPassOptions } from './merge-blocks.ts'
import type { MergeContext } from './merge-scope.ts'
import { checkInScope, confineIn, resolveStateChain, scopedParentResolver } from './merge-scope.ts'
import type { MergeState } from './merge-state.ts'
import { mergeStatePath, readMergeState, writeMergeState } from './merge-state.ts'
import type { MergeStore } from './merge-store.ts'
import { readIdentity, verifyCleanup } from './merge-verify.ts'
import { VhdChain } from './vhd-chain.ts'
import { fail } from './vhd-error.ts'
import type { VhdFile } from './vhd-file.ts'

/** Options of mergeVhdChain and resumeVhdMerge. */
export interface MergeOptions extends BlockPassOptions {
  /**
   * The store folder the merge may touch (default: the folder of the chain's target; for a resume,
   * of the state file). Every path — given, read from the state file or from a parent locator —
   * must resolve inside it and pass MergeStore.confine. A repository passes the VM folder.
   */
  readonly scope?: string
}

/** What a merge did: where the merged disk now is, what it deleted, blocks and bytes, and whether it resumed. */
export interface MergeResult {
  /** The target's path (kept for compatibility: the same as `mergedInto`). */
  readonly path: string
  /** The file that now holds the merged disk: the target's path, which the parent was renamed to. */
  readonly mergedInto: string
  /** The intermediate files this run deleted (the parent is not listed: it became `mergedInto`). */
  readonly removed: readonly string[]
  readonly mergedBlocks: number
  readonly mergedBytes: number
  readonly resumed: boolean
}

/**
 * Folds `chain` = [parent, child1, …, target] into the parent in place, then gives the result the
 * target's name and footer UUID (XO semantics, xen-orchestra-backups.md §3.5) and deletes the
 * intermediate children. I/O is proportional to the children's stored blocks. A state file written
 * before any destructive step makes it resumable: calling it again after a crash (or calling
 * resumeVhdMerge) finishes the job. Every file touched must be a regular file in `options.scope`,
 * reached without symlinks, with the identity recorded (PathError, VHD_MERGE_STATE otherwise,
 * before anything changes). docs/formats/vhd.md gives the crash-safety argument.
 */
export async function mergeVhdChain(
  store: MergeStore,
  paths: readonly string[],
  options: MergeOptions = {},
): Promise<MergeResult> {
  const given = paths.map((p) => posix.normalize(p))
  const targetPath = given.at(-1)
  if (targetPath === undefined || given.length < 2) {
    return fail(
      'VHD_BAD_ARGUMENT',
      'merge',
      0,
      'chain',
      'a parent and at least one child',
      JSON.stringify(given),
    )
  }
  const context = { store, scope: posix.normalize(options.scope ?? posix.dirname(targetPath)) }
  // The caller's paths may come from parent locators (vhd merge follows them first): in scope too.
  const chain = given.map((p, i) => checkInScope(context.scope, p, { file: 'merge', field: `chain[${i}]` }))
  if (new Set(chain).size !== chain.length)
    fail('VHD_BAD_ARGUMENT', 'merge', 0, 'chain', 'distinct files', chain.join(', '))
  const statePath = mergeStatePath(chain[0] as string)
  const existing = await readMergeState(store, statePath)
  if (existing !== undefined) {
    const recorded = resolveStateChain(context.scope, statePath, existing)
    if (recorded.join('\n') !== chain.join('\n'))
      fail('VHD_MERGE_STATE', statePath, 0, 'chain', chain.join(', '), recorded.join(', '))
    return runMerge(context, recorded, statePath, existing, true, options)
  }
  const state = await planMerge(context, chain, statePath)
  await writeMergeState(store, statePath, state)
  return runMerge(context, chain, statePath, state, false, options)
}

/** Finishes the interrupted merge into `parentPath`, if its state file exists; undefined otherwise. */
export async function resumeVhdMerge(
  store: MergeStore,
  parentPath: string,
  options: MergeOptions = {},
): Promise<MergeResult | undefined> {
  const normalized = posix.normalize(parentPath)
  const context = { store, scope: posix.normalize(options.scope ?? posix.dirname(normalized)) }
  const parent = checkInScope(context.scope, normalized, { file: 'resume', field: 'parent' })
  const statePath = mergeStatePath(parent)
  const state = await readMergeState(store, statePath)
  if (state === undefined) return undefined
  const chain = resolveStateChain(context.scope, statePath, state)
  // The state file is named after its parent: a chain that starts elsewhere is not this merge's.
  if (chain[0] !== parent) fail('VHD_MERGE_STATE', statePath, 0, 'chain[0]', parent, String(chain[0]))
  return runMerge(context, chain, statePath, state, true, options)
}

async function planMerge(
  context: MergeContext,
  chain: readonly string[],
  statePath: string,
): Promise<MergeState> {
  for (const [i, path] of chain.entries())
    await confineIn(context, path, { file: 'merge', field: `chain[${i}]` })
  const top = await VhdChain.open(chain.at(-1) as string, (path) => context.store.open(path, 'read'), {
    maxDepth: chain.length,
    resolveParent: scopedParentResolver(context),
  })
  try {
    const expected = chain.slice().reverse()
    if (expected.join('\n') !== top.paths.join('\n')) {
      fail(
        'VHD_BAD_ARGUMENT',
        chain.at(-1) as string,
        0,
        'chain',
        `ancestors ${expected.slice(1).join(', ')}`,
        top.paths.slice(1).join(', '),
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
  context: MergeContext,
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
    const merged = await mergeBlocks(context, chain, statePath, state, options)
    mergedBlocks = merged.blocks
    state = { ...state, step: 'cleanup', mergedDataSize: merged.mergedDataSize }
    await writeMergeState(context.store, statePath, state)
  }
  const removed = await cleanup(context, chain, statePath, state)
  return {
    path: targetPath,
    mergedInto: targetPath,
    removed,
    mergedBlocks,
    mergedBytes: state.mergedDataSize,
    resumed,
  }
}

/**
 * The `cleanup` step, after proving every file still there is the recorded one (verifyCleanup):
 * the parent is renamed over the target (an atomic replace: the target path holds a complete disk
 * at every instant), then the intermediates are deleted newest first — so those a crash leaves
 * still link up to the recorded parent UUID and a resume can prove them — then the state file.
 */
async function cleanup(
  context: MergeContext,
  chain: readonly string[],
  statePath: string,
  state: MergeState,
): Promise<string[]> {
  const { store } = context
  for (const [i, path] of chain.entries())
    await confineIn(context, path, { file: statePath, field: `chain[${i}]` }, { allowMissing: true })
  const ids = []
  for (const path of chain) ids.push(await readIdentity(store, path))
  verifyCleanup(state, chain, ids, statePath)
  const [parentPath, targetPath] = [chain[0] as string, chain.at(-1) as string]
  if (ids[0] !== undefined) await store.rename(parentPath, targetPath)
  const removed: string[] = []
  for (let i = chain.length - 2; i > 0; i--) {
    const path = chain[i] as string
    if (ids[i] === undefined) continue
    await store.delete(path)
    removed.push(path)
  }
  await store.delete(statePath)
  return removed
}
