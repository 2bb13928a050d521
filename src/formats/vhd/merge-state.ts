import { posix } from 'node:path'
import { isUuid } from '../../shared/ids.ts'
import { MAX_CHAIN_LENGTH } from './constants.ts'
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

/** Largest state file read: 1024 chain paths of 1 KiB fit; a bigger one is not a state we wrote. */
const MAX_STATE_BYTES = 1024 * 1024

/**
 * Reads the state file at `path` (undefined when absent). It is confined first (a regular file
 * reached without symlinks: a FIFO would block the read) and its size bounded; a malformed one is
 * VHD_MERGE_STATE. Its `chain` is only parsed here: resolveStateChain confines each entry.
 */
export async function readMergeState(store: MergeStore, path: string): Promise<MergeState | undefined> {
  await store.confine(path, posix.dirname(path), { allowMissing: true })
  if (!(await store.exists(path))) return undefined
  const file = await store.open(path, 'read')
  let bytes: Uint8Array
  try {
    const size = await file.size()
    if (size > MAX_STATE_BYTES)
      fail('VHD_MERGE_STATE', path, 0, 'file size', `<= ${MAX_STATE_BYTES} bytes`, size)
    bytes = await file.read(0, size)
  } finally {
    await file.close?.()
  }
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
    state.chain.length <= MAX_CHAIN_LENGTH &&
    state.chain.every((p) => typeof p === 'string') &&
    (state.step === 'mergeBlocks' || state.step === 'cleanup')
  if (!ok)
    return fail(
      'VHD_MERGE_STATE',
      path,
      0,
      'state',
      `{parent:{uuid}, child:{uuid}, chain:[2..${MAX_CHAIN_LENGTH} paths], step}`,
      JSON.stringify(value).slice(0, 200),
    )
  // XO normalises a missing or negative currentBlock to 0 (old bugs wrote null); same for the size.
  const currentBlock = countOrZero(state.currentBlock)
  const mergedDataSize = countOrZero(state.mergedDataSize)
  return { ...(state as MergeState), currentBlock, mergedDataSize }
}

function countOrZero(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0
}

/** Writes the state file atomically and durably. */
export async function writeMergeState(store: MergeStore, path: string, state: MergeState): Promise<void> {
  await store.writeFile(path, Buffer.from(JSON.stringify(state)))
}
