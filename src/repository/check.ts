import type { Remote, RemoteEntry } from '../remotes/remote.ts'
import type { Task } from '../tasks/task.ts'
import { CACHE_FILE, parseBackupFileName, vmDir } from './layout.ts'
import type { LineageDisk } from './lineage.ts'
import { ancestorsOf, readLineage } from './lineage.ts'
import type { BackupListing } from './listing.ts'
import { listVmBackups } from './listing.ts'
import { readMetadataFile } from './read-file.ts'

/** The kinds of problem check & repair reports (XO's cleanVm checks, xen-orchestra-backups.md §3.6). */
export type FindingKind =
  | 'unreadable-metadata'
  | 'incomplete-backup'
  | 'broken-vhd'
  | 'duplicate-uuid'
  | 'orphan-vhd'
  | 'unmerged-ancestor'
  | 'interrupted-merge'
  | 'orphan-file'
  | 'temp-file'
  | 'size-mismatch'
  | 'missing-checksum'
  | 'unknown-file'

/** One problem, and the files a repair deletes for it (none when it is only reported). */
export interface Finding {
  readonly kind: FindingKind
  readonly path: string
  readonly message: string
  readonly deletes: readonly string[]
  /** For a delta backup whose metadata `size` is stale (after an XO merge): the size repair writes. */
  readonly setSize?: number
}

// Findings that a read error can produce as well as real damage: a remote that failed one read
// (a reset connection, an S3 503) makes a VHD look broken, its backup incomplete and its disks
// orphans. Nothing but a person's `backups check --repair` may act on them.
const DOUBTFUL: readonly FindingKind[] = ['unreadable-metadata', 'incomplete-backup', 'broken-vhd']

/** The findings a read error could have caused: while there is one, nothing that may belong to a backup is deleted or merged without a person's `--repair`. */
export function doubtfulFindings(report: { readonly findings: readonly Finding[] }): Finding[] {
  return report.findings.filter((f) => DOUBTFUL.includes(f.kind))
}

/** What check found for one VM, and the backups that are complete (restorable). */
export interface CheckReport {
  readonly vmUuid: string
  readonly findings: readonly Finding[]
  readonly completeBackups: readonly string[]
  /** Every file a complete backup needs (metadata, data, checksums, VHD ancestors): never deleted. */
  readonly protectedPaths: readonly string[]
}

const isTemp = (name: string): boolean =>
  name.startsWith('.') && (name.endsWith('.tmp') || /^\.\d{10,}\./.test(name))
const isMergeState = (name: string): boolean => name.startsWith('.') && name.endsWith('.merge.json')
const basename = (path: string): string => path.slice(path.lastIndexOf('/') + 1)
const dirname = (path: string): string => path.slice(0, path.lastIndexOf('/'))

function completeness(backup: BackupListing, lineage: ReadonlyMap<string, LineageDisk>): string | undefined {
  if (backup.missingFiles.length > 0) return `missing ${backup.missingFiles.join(', ')}`
  if (backup.metadata.mode === 'full') return undefined
  const broken = backup.files.map((f) => lineage.get(f)).find((d) => d?.broken !== undefined)
  return broken === undefined ? undefined : `disk ${broken.path}: ${broken.broken ?? ''}`
}

/**
 * Checks one VM folder without changing anything: unreadable metadata, incomplete backups (a data
 * file missing or a disk chain broken), damaged VHDs, duplicate VHD UUIDs, orphan VHDs (deleted by
 * repair only when no complete backup needs them: ancestors of a kept disk are reported as
 * `unmerged-ancestor`, never deleted), interrupted merges, orphan XVAs and checksums, temp files,
 * size mismatches (a delta's stale `size` is rewritten by repair; a full backup's is only reported,
 * as it may mean a damaged XVA). When any metadata is unreadable or a merge is interrupted, orphans of the
 * affected scope are reported but not scheduled for deletion: they may belong to a real backup.
 */
export async function checkVmBackups(remote: Remote, vmUuid: string): Promise<CheckReport> {
  const dir = vmDir(vmUuid)
  const files = new Map<string, RemoteEntry>()
  for await (const entry of remote.list(dir, { recursive: true })) files.set(entry.path, entry)
  const { backups, invalid } = await listVmBackups(remote, vmUuid, { useCache: false, listing: files })
  const findings: Finding[] = invalid.map(({ path, message }) => ({
    kind: 'unreadable-metadata',
    path,
    message,
    deletes: [],
  }))
  const vhdPaths = [...files.keys()].filter(
    (p) => p.startsWith(`${dir}/vdis/`) && p.endsWith('.vhd') && !basename(p).startsWith('.'),
  )
  const lineage = await readLineage(remote, vhdPaths)

  // While a merge is interrupted its parent may not link up with the chain until it is resumed:
  // backups with disks in such a folder are judged after the resume, never deleted before it.
  const mergeDirs = new Set([...files.keys()].filter((p) => isMergeState(basename(p))).map(dirname))
  const complete: BackupListing[] = []
  for (const backup of backups) {
    const why = completeness(backup, lineage)
    if (
      why === undefined ||
      (backup.missingFiles.length === 0 && backup.files.some((f) => mergeDirs.has(dirname(f))))
    )
      complete.push(backup)
    else
      findings.push({
        kind: 'incomplete-backup',
        path: backup.id,
        message: `backup is incomplete: ${why}`,
        deletes: [backup.id, ...(backup.checksumFile === undefined ? [] : [backup.checksumFile])],
      })
  }
  const needed = new Set<string>()
  const referenced = new Set<string>()
  for (const backup of complete) {
    for (const file of backup.files) {
      referenced.add(file)
      needed.add(file)
      for (const ancestor of ancestorsOf(lineage, file)) needed.add(ancestor)
    }
    if (backup.metadata.mode === 'full') checkFull(backup, files, findings)
    else checkDeltaSize(backup, files, findings)
  }

  for (const path of files.keys()) {
    if (isMergeState(basename(path)))
      findings.push({
        kind: 'interrupted-merge',
        path,
        message: 'a merge was interrupted here; run the merge again to resume it',
        deletes: [],
      })
  }
  const cautious = invalid.length > 0
  const byUuid = new Map<string, string[]>()
  for (const disk of lineage.values()) {
    if (disk.uuid !== undefined) byUuid.set(disk.uuid, [...(byUuid.get(disk.uuid) ?? []), disk.path])
    if (referenced.has(disk.path) || needed.has(disk.path)) {
      if (!referenced.has(disk.path))
        findings.push({
          kind: 'unmerged-ancestor',
          path: disk.path,
          message: 'not referenced by any backup but a kept backup needs it: merge it into its child',
          deletes: [],
        })
      continue
    }
    const blocked = cautious
      ? 'some metadata is unreadable'
      : mergeDirs.has(dirname(disk.path))
        ? 'a merge is interrupted in this folder'
        : undefined
    const kind = disk.broken === undefined ? 'orphan-vhd' : 'broken-vhd'
    const message = `${disk.broken === undefined ? 'no backup uses this disk' : `damaged and unused: ${disk.broken}`}${blocked === undefined ? '' : ` (kept: ${blocked})`}`
    findings.push({ kind, path: disk.path, message, deletes: blocked === undefined ? [disk.path] : [] })
  }
  for (const [uuid, paths] of byUuid) {
    if (paths.length > 1)
      findings.push({
        kind: 'duplicate-uuid',
        path: paths[0] ?? '',
        message: `VHD UUID ${uuid} appears in ${paths.join(', ')}`,
        deletes: [],
      })
  }
  checkRootFiles(dir, files, backups, cautious, findings)
  const protectedPaths = [
    ...needed,
    ...complete.flatMap((b) => [b.id, ...b.files, ...(b.checksumFile === undefined ? [] : [b.checksumFile])]),
  ]
  return {
    vmUuid: vmUuid.toLowerCase(),
    findings,
    completeBackups: complete.map((b) => b.id),
    protectedPaths,
  }
}

function checkDeltaSize(
  backup: BackupListing,
  files: ReadonlyMap<string, RemoteEntry>,
  findings: Finding[],
): void {
  const stored = backup.files.reduce((sum, f) => sum + (files.get(f)?.sizeBytes ?? 0), 0)
  if (backup.metadata.size === undefined || backup.metadata.size === stored) return
  findings.push({
    kind: 'size-mismatch',
    path: backup.id,
    message: `metadata says ${backup.metadata.size} bytes, its disks hold ${stored} (stale after a merge)`,
    deletes: [],
    setSize: stored,
  })
}

function checkFull(
  backup: BackupListing,
  files: ReadonlyMap<string, RemoteEntry>,
  findings: Finding[],
): void {
  const [xva] = backup.files
  const stored = xva === undefined ? undefined : files.get(xva)?.sizeBytes
  if (backup.metadata.size !== undefined && stored !== undefined && stored !== backup.metadata.size) {
    findings.push({
      kind: 'size-mismatch',
      path: xva ?? backup.id,
      message: `metadata says ${backup.metadata.size} bytes, the file has ${stored}`,
      deletes: [],
    })
  }
  if (backup.checksumFile === undefined)
    findings.push({
      kind: 'missing-checksum',
      path: `${xva ?? backup.id}.checksum`,
      message: 'no checksum file: the XVA cannot be verified',
      deletes: [],
    })
}

function checkRootFiles(
  dir: string,
  files: ReadonlyMap<string, RemoteEntry>,
  backups: readonly BackupListing[],
  cautious: boolean,
  findings: Finding[],
): void {
  const claimed = new Set(
    backups.flatMap((b) => [b.id, ...b.files, ...(b.checksumFile === undefined ? [] : [b.checksumFile])]),
  )
  for (const path of files.keys()) {
    if (dirname(path) !== dir || claimed.has(path)) continue
    const name = basename(path)
    if (name === CACHE_FILE) continue
    if (isTemp(name)) {
      findings.push({ kind: 'temp-file', path, message: 'left by an interrupted write', deletes: [path] })
      continue
    }
    const parsed = parseBackupFileName(name)
    if (parsed === undefined || parsed.kind === 'metadata') {
      if (parsed === undefined)
        findings.push({
          kind: 'unknown-file',
          path,
          message: 'not part of the backup layout; left alone',
          deletes: [],
        })
      continue
    }
    const message =
      parsed.kind === 'xva-checksum' ? 'checksum of a missing XVA' : 'no backup metadata names this file'
    findings.push({
      kind: 'orphan-file',
      path,
      message: `${message}${cautious ? ' (kept: some metadata is unreadable)' : ''}`,
      deletes: cautious ? [] : [path],
    })
  }
}

/** Rewrites the `size` of the metadata at `path` (validated again before the atomic replace). */
async function rewriteSize(remote: Remote, path: string, size: number): Promise<void> {
  const metadata = await readMetadataFile(remote, path)
  await remote.write(path, Buffer.from(JSON.stringify({ ...metadata, size })))
}

/** What a repair did. */
export interface RepairResult {
  readonly deleted: readonly string[]
}

/**
 * Applies the deletions of a report: first the metadata of incomplete backups (so nothing lists
 * them any more), then orphans, then the listing cache (rebuilt on the next listing). The caller
 * holds the VM lock. Deletions never include a file a complete backup references: checked again here.
 */
export async function repairVmBackups(
  remote: Remote,
  report: CheckReport,
  task?: Task,
): Promise<RepairResult> {
  const protectedFiles = new Set(report.protectedPaths)
  const order = (f: Finding): number => (f.kind === 'incomplete-backup' ? 0 : 1)
  const deleted: string[] = []
  for (const finding of [...report.findings].sort((a, b) => order(a) - order(b))) {
    if (finding.setSize !== undefined) await rewriteSize(remote, finding.path, finding.setSize)
    const paths = finding.deletes.filter((p) => !protectedFiles.has(p))
    if (paths.length === 0) continue
    await remote.deleteMany(paths)
    deleted.push(...paths)
    task?.info(`deleted: ${finding.message}`, { kind: finding.kind, paths })
  }
  if (deleted.length > 0) await remote.delete(`${vmDir(report.vmUuid)}/${CACHE_FILE}`)
  return { deleted }
}
