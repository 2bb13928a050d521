import type { Remote } from '../../remotes/remote.ts'
import { parseBackupFileName, vdiDir } from '../../repository/layout.ts'
import { readLineage } from '../../repository/lineage.ts'
import { isUuid } from '../../shared/ids.ts'
import { formatBackupTimestamp } from '../../shared/timestamps.ts'

/** The VHD a delta of one disk chains onto: the newest of its folder, written from the base snapshot. */
export interface ChainParent {
  readonly baseVdiUuid: string
  readonly path: string
  /** The parent's timestamp, which names it (`DeltaDiskInput.parentTimestampMs`). */
  readonly timestampMs: number
}

/** Where a disk's chain can go on: its parent, or why there is none (for the log). */
export type ChainVerdict = ChainParent | { readonly reason: string }

/**
 * Whether a delta of the live VDI `liveVdiUuid` can chain onto the backup of the base snapshot
 * VDI `baseVdiUuid` in `vdis/<job>/<vdi>/` (xen-orchestra-backups.md §3.2): the newest non-hidden
 * VHD of the folder must be named in our form, belong to a complete backup (`completeVhds`), have
 * a readable chain down to its key (readLineage: every parent present with the UUID its child
 * names), and carry the base snapshot VDI's uuid in its footer — the writer gives each VHD the
 * uuid of the snapshot VDI it was exported from, and a merge keeps it. Only the newest qualifies:
 * chaining onto an older VHD would give it two children, which no merge can fold.
 */
export async function findChainParent(
  remote: Remote,
  where: { readonly vmUuid: string; readonly jobId: string },
  liveVdiUuid: string,
  baseVdiUuid: string,
  completeVhds: ReadonlySet<string>,
): Promise<ChainVerdict> {
  if (!isUuid(liveVdiUuid) || !isUuid(baseVdiUuid))
    return {
      reason: `expected VDI uuids, got ${JSON.stringify(baseVdiUuid.slice(0, 64))} → ${JSON.stringify(liveVdiUuid.slice(0, 64))}`,
    }
  const dir = vdiDir(where.vmUuid, where.jobId, liveVdiUuid)
  const vhds: { path: string; name: string; timestampMs: number }[] = []
  for await (const entry of remote.list(dir)) {
    const name = entry.path.slice(entry.path.lastIndexOf('/') + 1)
    const parsed = name.startsWith('.') ? undefined : parseBackupFileName(name)
    if (entry.kind === 'file' && parsed?.kind === 'vhd')
      vhds.push({ path: entry.path, name, timestampMs: parsed.timestampMs })
  }
  vhds.sort((a, b) => b.timestampMs - a.timestampMs)
  const [newest] = vhds
  if (newest === undefined) return { reason: `no backup of this disk in ${dir}` }
  if (newest.name !== `${formatBackupTimestamp(newest.timestampMs)}.vhd`)
    return { reason: `${newest.path}: not named in the form this writer chains onto` }
  if (!completeVhds.has(newest.path))
    return { reason: `${newest.path}: the newest VHD is not part of a complete backup of this job` }
  const disk = (
    await readLineage(
      remote,
      vhds.map((v) => v.path),
    )
  ).get(newest.path)
  if (disk?.broken !== undefined) return { reason: `${newest.path}: chain unreadable: ${disk.broken}` }
  if (disk?.uuid?.toLowerCase() !== baseVdiUuid.toLowerCase())
    return {
      reason: `${newest.path}: its VHD UUID ${disk?.uuid ?? '?'} is not the base snapshot VDI ${baseVdiUuid}`,
    }
  return { baseVdiUuid, path: newest.path, timestampMs: newest.timestampMs }
}
