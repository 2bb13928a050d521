import { posix } from 'node:path'
import { DiskType } from '../formats/vhd/constants.ts'
import { resolveParentPath } from '../formats/vhd/vhd-chain.ts'
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
 * Opens every VHD of a chain folder (`vdis/<job>/<vdi>`) and links each differencing disk to its
 * parent by relative path, checking the parent's UUID. Damage propagates: a disk whose parent is
 * broken or missing is broken too. Reads only footers, headers and BATs.
 */
export async function readLineage(
  remote: Remote,
  vhdPaths: readonly string[],
): Promise<Map<string, LineageDisk>> {
  const opened = new Map<
    string,
    { uuid: string; parent?: { path: string; uuid: string } } | { broken: string }
  >()
  for (const path of vhdPaths) {
    try {
      const disk = await VhdFile.open(await openRemoteFile(remote, path))
      const header = disk.header
      const parent =
        disk.diskType === DiskType.differencing && header !== undefined
          ? {
              path: posix.normalize(resolveParentPath(path, header.parentUnicodeName)),
              uuid: header.parentUniqueId,
            }
          : undefined
      opened.set(path, parent === undefined ? { uuid: disk.uniqueId } : { uuid: disk.uniqueId, parent })
    } catch (error) {
      opened.set(path, { broken: (error as Error).message })
    }
  }
  const result = new Map<string, LineageDisk>()
  const resolve = (path: string, seen: Set<string>): LineageDisk => {
    const done = result.get(path)
    if (done !== undefined) return done
    const entry = opened.get(path)
    let disk: LineageDisk
    if (entry === undefined) disk = { path, broken: 'missing' }
    else if ('broken' in entry) disk = { path, broken: entry.broken }
    else if (entry.parent === undefined) disk = { path, uuid: entry.uuid }
    else if (seen.has(path)) disk = { path, uuid: entry.uuid, broken: 'parent chain loops' }
    else {
      seen.add(path)
      const parent = opened.has(entry.parent.path) ? resolve(entry.parent.path, seen) : undefined
      const broken =
        parent === undefined
          ? `parent ${entry.parent.path} is missing`
          : parent.broken !== undefined
            ? `parent ${entry.parent.path} is unusable (${parent.broken})`
            : parent.uuid !== entry.parent.uuid
              ? `parent ${entry.parent.path} has UUID ${parent.uuid ?? '?'}, expected ${entry.parent.uuid}`
              : undefined
      disk = {
        path,
        uuid: entry.uuid,
        parentPath: entry.parent.path,
        ...(broken === undefined ? {} : { broken }),
      }
    }
    result.set(path, disk)
    return disk
  }
  for (const path of vhdPaths) resolve(path, new Set())
  return result
}

/** The ancestors of `path` (parent first), stopping at a missing link. */
export function ancestorsOf(lineage: ReadonlyMap<string, LineageDisk>, path: string): string[] {
  const out: string[] = []
  for (
    let p = lineage.get(path)?.parentPath;
    p !== undefined && !out.includes(p);
    p = lineage.get(p)?.parentPath
  )
    out.push(p)
  return out
}
