import { posix } from 'node:path'
import { isUuid } from '../../shared/ids.ts'
import type { MergeStore } from './merge-store.ts'
import { fail } from './vhd-error.ts'

/**
 * The merge state file, in XO's shape (xen-orchestra-backups.md §2.9) so either tool can resume the
 * other's merge: `chain` holds paths relative to the state file's directory, parent first.
 */
export interface MergeState {
  readonly parent: { readonly uuid: string }
  readonly child: { readonly uuid: string }
  readonly chain: readonly string[]
  readonly currentBlock: number
  readonly mergedDataSize: number
  readonly step: 'mergeBlocks' | 'cleanup'
}

/** Path of the state file of a merge into `parentPath`: `.<parent name>.merge.json` beside it. */
export function mergeStatePath(parentPath: string): string {
  return posix.join(posix.dirname(parentPath), `.${posix.basename(parentPath)}.merge.json`)
}

/** Reads the state file at `path` (undefined when absent); a malformed one is VHD_MERGE_STATE. */
export async function readMergeState(store: MergeStore, path: string): Promise<MergeState | undefined> {
  const bytes = await store.readFile(path)
  if (bytes === undefined) return undefined
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    return fail('VHD_MERGE_STATE', path, 0, 'JSON', 'a merge state object', 'unparsable text')
  }
  const state = value as Partial<MergeState> | null
  const ok =
    state !== null &&
    isUuid(state.parent?.uuid) &&
    isUuid(state.child?.uuid) &&
    Array.isArray(state.chain) &&
    state.chain.length >= 2 &&
    state.chain.every((p) => typeof p === 'string') &&
    (state.step === 'mergeBlocks' || state.step === 'cleanup')
  if (!ok)
    return fail(
      'VHD_MERGE_STATE',
      path,
      0,
      'state',
      '{parent:{uuid}, child:{uuid}, chain:[>=2 paths], step}',
      JSON.stringify(value).slice(0, 200),
    )
  // XO normalises a missing or negative currentBlock to 0 (old bugs wrote null).
  const currentBlock =
    typeof state.currentBlock === 'number' && state.currentBlock > 0 ? state.currentBlock : 0
  return { ...(state as MergeState), currentBlock, mergedDataSize: state.mergedDataSize ?? 0 }
}

/** Writes the state file atomically and durably. */
export async function writeMergeState(store: MergeStore, path: string, state: MergeState): Promise<void> {
  await store.writeFile(path, Buffer.from(JSON.stringify(state)))
}
