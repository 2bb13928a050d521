import { DiskType } from '../formats/vhd/constants.ts'
import type { MergeStore } from '../formats/vhd/merge-store.ts'
import type { MergeResult } from '../formats/vhd/vhd-merge.ts'
import { mergeVhdChain, resumeVhdMerge } from '../formats/vhd/vhd-merge.ts'
import { VhdFile } from '../formats/vhd/vhd-file.ts'
import type { LockHandle, Remote } from '../remotes/remote.ts'
import type { Task } from '../tasks/task.ts'
import { CACHE_FILE, resolveInVmDir, vmDir } from './layout.ts'
import type { LineageDisk } from './lineage.ts'
import { readLineage } from './lineage.ts'
import type { BackupListing } from './listing.ts'
import { listVmBackups } from './listing.ts'
import { openRemoteFile } from './remote-file.ts'

/** Options of mergeVmBackups. */
export interface MergeRunOptions {
  /** At most this many deltas folded per chain in one run (XO's `maxMergedDeltasPerRun`); the rest waits. */
  readonly maxMergedDeltasPerRun?: number
  /** The caller's VM lock, refreshed after each chain so a long run keeps it. */
  readonly lock?: LockHandle
}

/** What a merge run did. */
export interface MergeRunResult {
  readonly merges: readonly MergeResult[]
  readonly mergedBytes: number
  /** Chains left alone because a disk in them is damaged (check & repair reports them). */
  readonly skipped: readonly string[]
}

const MERGE_STATE = /^\.(.+)\.merge\.json$/

/**
 * The chains to merge in a VM folder: for each disk of a complete backup, its run of unreferenced
 * ancestors (the deltas whose backups expired, and the expired key), oldest first, ending with the
 * disk itself — at most `max` deltas folded per chain. Pure.
 */
export function planMergeChains(
  lineage: ReadonlyMap<string, LineageDisk>,
  referenced: ReadonlySet<string>,
  max = Infinity,
): { chains: string[][]; skipped: string[] } {
  const chains: string[][] = []
  const skipped: string[] = []
  for (const path of referenced) {
    const run: string[] = []
    for (
      let p = lineage.get(path)?.parentPath;
      p !== undefined && !referenced.has(p) && !run.includes(p);
      p = lineage.get(p)?.parentPath
    )
      run.push(p)
    if (run.length === 0) continue
    const chain = [...run.reverse(), path]
    if (chain.some((p) => lineage.get(p)?.broken !== undefined)) {
      skipped.push(path)
      continue
    }
    chains.push(chain.length - 1 > max ? chain.slice(0, max + 1) : chain)
  }
  return { chains, skipped }
}

/**
 * Makes a delta backup's metadata match its disks after merges (`isVhdDifferencing`, `size`),
 * rewriting it only when something differs: also heals metadata left stale by a merge that was
 * resumed elsewhere (or by XO).
 */
async function reconcileMetadata(remote: Remote, backup: BackupListing): Promise<boolean> {
  if (backup.metadata.mode !== 'delta') return false
  const isVhdDifferencing: Record<string, boolean> = {}
  let size = 0
  for (const [ref, relative] of Object.entries(backup.metadata.vhds)) {
    // Confined and normalised like the listing's `files` (a stored `vdis/./x.vhd` is valid).
    const path = resolveInVmDir(vmDir(backup.vmUuid), relative, `vhds.${ref}`)
    const file = await openRemoteFile(remote, path)
    const disk = await VhdFile.open(file)
    isVhdDifferencing[ref] = disk.diskType === DiskType.differencing
    size += await file.size()
  }
  const same =
    size === backup.metadata.size &&
    JSON.stringify(isVhdDifferencing) === JSON.stringify(backup.metadata.isVhdDifferencing ?? {})
  if (same) return false
  const metadata = { ...backup.metadata, isVhdDifferencing, size }
  await remote.write(backup.id, Buffer.from(JSON.stringify(metadata)))
  return true
}

/**
 * Folds expired deltas into the key so that the oldest kept backup becomes the key, keeping its file
 * name and VHD UUID (xen-orchestra-backups.md §3.5): first finishes interrupted merges (their state
 * files), then merges each planned chain through `store` (which reaches the same files in place),
 * then brings every kept delta backup's metadata in line with its disks (`isVhdDifferencing`, `size`).
 * The caller holds the VM lock (withVmLock); crash-safe because every merge is (docs/formats/vhd.md).
 */
export async function mergeVmBackups(
  remote: Remote,
  store: MergeStore,
  vmUuid: string,
  options: MergeRunOptions = {},
  task?: Task,
): Promise<MergeRunResult> {
  const dir = vmDir(vmUuid)
  const merges = await resumeInterruptedMerges(remote, store, vmUuid, task)
  const { backups, invalid } = await listVmBackups(remote, vmUuid, { useCache: false })
  if (invalid.length > 0) {
    // An unreadable metadata file may reference VHDs that look unreferenced: merging them away
    // would destroy that backup's data. Merge nothing until check & repair has looked at it.
    task?.warning('merges skipped: some backup metadata is unreadable (run backups check)', {
      invalid: invalid.map((i) => i.path),
    })
    return {
      merges,
      mergedBytes: merges.reduce((n, m) => n + m.mergedBytes, 0),
      skipped: invalid.map((i) => i.path),
    }
  }
  const vhdPaths = (await collectVhds(remote, dir)).filter(
    (p) => !p.slice(p.lastIndexOf('/') + 1).startsWith('.'),
  )
  const lineage = await readLineage(remote, vhdPaths)
  const complete = backups.filter(
    (b) => b.missingFiles.length === 0 && b.files.every((f) => lineage.get(f)?.broken === undefined),
  )
  const referenced = new Set(complete.filter((b) => b.metadata.mode === 'delta').flatMap((b) => b.files))
  const { chains, skipped } = planMergeChains(lineage, referenced, options.maxMergedDeltasPerRun)
  for (const chain of chains) {
    // The VM folder is the merge's scope: no path of a chain may lead out of it.
    merges.push(await mergeVhdChain(store, chain, { scope: dir }))
    await options.lock?.refresh()
  }
  let rewritten = 0
  for (const backup of complete) if (await reconcileMetadata(remote, backup)) rewritten++
  if (merges.length > 0 || rewritten > 0) await remote.delete(`${dir}/${CACHE_FILE}`)
  return { merges, mergedBytes: merges.reduce((n, m) => n + m.mergedBytes, 0), skipped }
}

/**
 * Finishes every merge of a VM folder that a crash interrupted (its `.…merge.json` state file is
 * there). Readers of the repository call this first (under the VM lock): between the footer update
 * and the rename of a merge, a chain that reads through the merged parent does not link up.
 */
export async function resumeInterruptedMerges(
  remote: Remote,
  store: MergeStore,
  vmUuid: string,
  task?: Task,
): Promise<MergeResult[]> {
  const merges: MergeResult[] = []
  for await (const entry of remote.list(vmDir(vmUuid), { recursive: true })) {
    const slash = entry.path.lastIndexOf('/')
    const parent = MERGE_STATE.exec(entry.path.slice(slash + 1))?.[1]
    if (parent === undefined) continue
    const resumed = await resumeVhdMerge(store, `${entry.path.slice(0, slash)}/${parent}`, {
      scope: vmDir(vmUuid),
    })
    if (resumed === undefined) continue
    merges.push(resumed)
    task?.info('resumed an interrupted merge', { path: entry.path })
  }
  return merges
}

async function collectVhds(remote: Remote, dir: string): Promise<string[]> {
  const out: string[] = []
  for await (const entry of remote.list(`${dir}/vdis`, { recursive: true }))
    if (entry.path.endsWith('.vhd')) out.push(entry.path)
  return out
}
