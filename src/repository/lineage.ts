import { posix } from 'node:path'
import { DiskType } from '../formats/vhd/constants.ts'
import { mapWithConcurrency } from '../shared/async.ts'
import { resolveReference } from '../shared/confine.ts'
import { VhdFile } from '../formats/vhd/vhd-file.ts'
import type { Remote } from '../remotes/remote.ts'
import { openRemoteFile } from './remote-file.ts'

/** What check & repair knows of one VHD of a chain folder. */
export interface LineageDisk {
  readonly path: string
  /** Why the file cannot be used, when it cannot (unreadable, damaged, parent missing or mismatching). */
  readonly broken?: string
  readonly uuid?: string
  readonly parentPath?: string
}

/**
 * The parent a VHD's locator names, resolved against the child's folder through the confinement
 * gate with its VM folder (`xo-vm-backups/<vm>`) as scope: a locator that is absolute or leaves the
 * VM folder throws PathError, and the child is then judged broken, never linked outside.
 */
function parentPathOf(childPath: string, parentName: string): string {
  const vmFolder = childPath.split('/').slice(0, 2).join('/')
  return resolveReference(posix.dirname(childPath), parentName, vmFolder)
}

/**
 * VHDs opened at once by readLineage: each open is a few small reads (footer, header, BAT), so the
 * cost is latency (a round trip each on S3); a handful in flight hides it while the BATs held at
 * once stay bounded (VhdFile.open checks each BAT's size against the file before reading it).
 */
const LINEAGE_OPEN_CONCURRENCY = 8

/**
 * Opens every VHD of a chain folder (`vdis/<job>/<vdi>`) and links each differencing disk to its
 * parent by relative path (confined to the VM folder), checking the parent's UUID. Damage
 * propagates: a disk whose parent is broken or missing is broken too. Reads only footers, headers
 * and BATs, LINEAGE_OPEN_CONCURRENCY files at a time; iterative, so a chain of any length is judged
 * without deep recursion.
 */
export async function readLineage(
  remote: Remote,
  vhdPaths: readonly string[],
): Promise<Map<string, LineageDisk>> {
  const opened = new Map<
    string,
    { uuid: string; parent?: { path: string; uuid: string } } | { broken: string }
  >()
  await mapWithConcurrency(vhdPaths, LINEAGE_OPEN_CONCURRENCY, async (path) => {
    try {
      const disk = await VhdFile.open(await openRemoteFile(remote, path))
      const header = disk.header
      const parent =
        disk.diskType === DiskType.differencing && header !== undefined
          ? {
              path: parentPathOf(path, header.parentUnicodeName),
              uuid: header.parentUniqueId,
            }
          : undefined
      opened.set(path, parent === undefined ? { uuid: disk.uniqueId } : { uuid: disk.uniqueId, parent })
    } catch (error) {
      opened.set(path, { broken: (error as Error).message })
    }
  })
  const result = new Map<string, LineageDisk>()
  // Iterative on purpose: a hostile folder can hold a chain of any length (a recursive walk would
  // overflow the stack). Climb to the first ancestor already judged (or missing, or a loop), then
  // judge the climbed disks from the top down, each from its parent's verdict.
  for (const start of vhdPaths) {
    const climbed: string[] = []
    const onPath = new Set<string>()
    let stop: string | undefined = start
    while (stop !== undefined && !result.has(stop) && !onPath.has(stop)) {
      const entry = opened.get(stop)
      if (entry === undefined || 'broken' in entry || entry.parent === undefined) break
      climbed.push(stop)
      onPath.add(stop)
      stop = opened.has(entry.parent.path) ? entry.parent.path : undefined
    }
    // `stop` is where the climb ended: judged already, missing, unreadable, a base, or a loop.
    if (stop !== undefined) judgeStandalone(stop, opened, result, onPath)
    for (let i = climbed.length - 1; i >= 0; i--) judgeChild(climbed[i] as string, opened, result)
  }
  return result
}

type Opened = Map<string, { uuid: string; parent?: { path: string; uuid: string } } | { broken: string }>

/** The verdict of a disk that is missing, unreadable, a base, or the start of a parent loop. */
function judgeStandalone(
  path: string,
  opened: Opened,
  result: Map<string, LineageDisk>,
  loop: ReadonlySet<string>,
): void {
  if (result.has(path)) return
  const entry = opened.get(path)
  if (entry === undefined) result.set(path, { path, broken: 'missing' })
  else if ('broken' in entry) result.set(path, { path, broken: entry.broken })
  else if (entry.parent === undefined) result.set(path, { path, uuid: entry.uuid })
  else if (loop.has(path))
    result.set(path, { path, uuid: entry.uuid, parentPath: entry.parent.path, broken: 'parent chain loops' })
}

/** The verdict of a differencing disk whose parent is judged already (or absent from the folder). */
function judgeChild(path: string, opened: Opened, result: Map<string, LineageDisk>): void {
  const entry = opened.get(path)
  if (result.has(path) || entry === undefined || 'broken' in entry || entry.parent === undefined) return
  const parent = result.get(entry.parent.path)
  const broken =
    parent === undefined
      ? `parent ${entry.parent.path} is missing`
      : parent.broken !== undefined
        ? `parent ${entry.parent.path} is unusable (${parent.broken})`
        : parent.uuid !== entry.parent.uuid
          ? `parent ${entry.parent.path} has UUID ${parent.uuid ?? '?'}, expected ${entry.parent.uuid}`
          : undefined
  result.set(path, {
    path,
    uuid: entry.uuid,
    parentPath: entry.parent.path,
    ...(broken === undefined ? {} : { broken }),
  })
}

/** The ancestors of `path` (parent first), stopping at a missing link or a loop. */
export function ancestorsOf(lineage: ReadonlyMap<string, LineageDisk>, path: string): string[] {
  const out: string[] = []
  const seen = new Set<string>([path])
  for (
    let p = lineage.get(path)?.parentPath;
    p !== undefined && !seen.has(p);
    p = lineage.get(p)?.parentPath
  ) {
    seen.add(p)
    out.push(p)
  }
  return out
}
