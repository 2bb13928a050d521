import type { MergeState } from './merge-state.ts'
import type { MergeStore } from './merge-store.ts'
import { VhdError, fail } from './vhd-error.ts'
import { VhdFile } from './vhd-file.ts'

/** What a merge's cleanup checks of a file of its chain before renaming or deleting it. */
export interface Identity {
  readonly uuid: string
  readonly differencing: boolean
  /** The header's parentUniqueId (differencing disks only). */
  readonly parentUuid: string | undefined
  /** Byte offset of the header, for messages. */
  readonly headerOffset: number
}

/**
 * The identity of the VHD at `path` (already confined), undefined when it does not exist; a file
 * that is not a sound VHD is VHD_MERGE_STATE, since nothing then proves it belongs to the chain.
 */
export async function readIdentity(store: MergeStore, path: string): Promise<Identity | undefined> {
  if (!(await store.exists(path))) return undefined
  const file = await store.open(path, 'read')
  let disk: VhdFile
  try {
    // The footer copy may lag the EOF footer when a merge stopped between the two writes.
    disk = await VhdFile.open(file, { ignoreFooterCopy: true })
  } catch (error) {
    await file.close?.()
    if (!(error instanceof VhdError)) throw error
    return fail('VHD_MERGE_STATE', path, error.issue.offset, 'identity', 'a sound VHD', error.message)
  }
  await disk.close()
  return {
    uuid: disk.uniqueId,
    differencing: disk.isDifferencing,
    parentUuid: disk.isDifferencing ? disk.header?.parentUniqueId : undefined,
    headerOffset: disk.footer.dataOffset,
  }
}

/**
 * The intermediates (indexes 1..n-2) whose identity is proven by a chain of parent links from a
 * recorded UUID: upward from the parent's (`state.parent.uuid`), and, while the old target still
 * stands (the parent not yet renamed over it), downward from the target's own parent link.
 */
function provenIntermediates(state: MergeState, ids: readonly (Identity | undefined)[]): Set<number> {
  const proven = new Set<number>()
  const last = ids.length - 1
  let expected: string | undefined = state.parent.uuid
  for (let i = 1; i < last; i++) {
    const id = ids[i]
    if (id?.differencing !== true || id.parentUuid !== expected) break
    proven.add(i)
    expected = id.uuid
  }
  const target = ids[last]
  if (ids[0] === undefined || target?.differencing !== true) return proven
  expected = target.parentUuid
  for (let i = last - 1; i > 0; i--) {
    const id = ids[i]
    if (id?.differencing !== true || id.uuid !== expected) break
    proven.add(i)
    expected = id.parentUuid
  }
  return proven
}

/**
 * Before a cleanup renames or deletes anything: proves every existing file of `chain` (store paths,
 * `ids` their identities) is the one the state recorded, at any crash point of the cleanup (ours:
 * rename, then intermediates newest first; XO's: children deleted, then rename). The parent, while
 * it exists, carries the target's UUID (its footer was written before `cleanup` was recorded); the
 * target carries it too; each intermediate links to the recorded chain; and when the parent is gone,
 * the target must be the merged disk, not the old delta (else the rename never happened and the
 * intermediates still hold data). Throws VHD_MERGE_STATE naming the file; returns nothing.
 */
export function verifyCleanup(
  state: MergeState,
  chain: readonly string[],
  ids: readonly (Identity | undefined)[],
  statePath: string,
): void {
  const last = chain.length - 1
  const [parent, target] = [ids[0], ids[last]]
  const childUuid = state.child.uuid
  if (parent !== undefined && parent.uuid !== childUuid)
    fail(
      'VHD_MERGE_STATE',
      chain[0] ?? '',
      68,
      'footer.uniqueId',
      `${childUuid} (merged parent)`,
      parent.uuid,
    )
  if (target === undefined && parent === undefined)
    fail('VHD_MERGE_STATE', statePath, 0, 'chain', 'the merged parent or the target', 'neither exists')
  if (target !== undefined && target.uuid !== childUuid)
    fail('VHD_MERGE_STATE', chain[last] ?? '', 68, 'footer.uniqueId', `${childUuid} (target)`, target.uuid)
  const proven = provenIntermediates(state, ids)
  for (let i = 1; i < last; i++) {
    const id = ids[i]
    if (id === undefined || proven.has(i)) continue
    const got = id.differencing ? `${id.uuid} linked to ${id.parentUuid}` : `${id.uuid}, not a delta`
    fail(
      'VHD_MERGE_STATE',
      chain[i] ?? '',
      id.headerOffset + 40,
      'header.parentUniqueId',
      'a link of the recorded chain',
      got,
    )
  }
  const chainUuids = new Set([state.parent.uuid, ...ids.slice(1, last).map((id) => id?.uuid)])
  if (parent === undefined && target?.differencing === true && chainUuids.has(target.parentUuid)) {
    const expected = 'the merged disk (the parent is gone: renamed over the target)'
    fail(
      'VHD_MERGE_STATE',
      chain[last] ?? '',
      target.headerOffset + 40,
      'header.parentUniqueId',
      expected,
      `still a delta over ${target.parentUuid}`,
    )
  }
}
