import { posix } from 'node:path'
import type { BlockSource } from '../formats/block-source.ts'
import { FOOTER_SIZE } from '../formats/vhd/constants.ts'
import { decodeFooter, validateFooter } from '../formats/vhd/footer.ts'
import { formatIssue } from '../formats/vhd/vhd-error.ts'
import { planVhdStream } from '../formats/vhd/vhd-stream-writer.ts'
import type { Remote } from '../remotes/remote.ts'
import { mapWithConcurrency } from '../shared/async.ts'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import type { Task } from '../tasks/task.ts'
import { metadataPath, vhdPath, vmDir } from './layout.ts'
import type { DeltaBackupMetadata } from './metadata.ts'
import { deltaBackupMetadataSchema } from './metadata.ts'
import { openRemoteFile } from './remote-file.ts'
import { RepositoryError } from './repository-error.ts'

/** One disk of a delta backup: its snapshot VDI ref, the source VDI uuid (the chain folder), its blocks. */
export interface DeltaDiskInput {
  readonly vdiRef: string
  readonly vdiUuid: string
  readonly source: BlockSource
  /** UUID of the new VHD (its footer `uniqueId`). */
  readonly uniqueId: string
  /** The backup this disk chains onto (a VHD of the same VDI folder); absent for a key (full) disk. */
  readonly parentTimestampMs?: number
}

/** The metadata fields of a delta backup that the engine knows. */
export type DeltaBackupInput = Pick<
  DeltaBackupMetadata,
  'jobId' | 'scheduleId' | 'vm' | 'vmSnapshot' | 'vbds' | 'vdis' | 'vifs' | 'vtpms' | 'tags'
>

/** The footer UUID of the VHD at `path`, checked (PARENT_MISSING / PARENT_MISMATCH naming the file). */
async function readParentUuid(remote: Remote, path: string, child: string): Promise<string> {
  let file
  try {
    file = await openRemoteFile(remote, path)
  } catch (error) {
    throw new RepositoryError('PARENT_MISSING', `${child}: parent ${path} is missing`, { cause: error })
  }
  const size = await file.size()
  const bytes = await file.read(Math.max(0, size - FOOTER_SIZE), FOOTER_SIZE)
  const problem =
    bytes.length < FOOTER_SIZE
      ? `only ${bytes.length} bytes`
      : validateFooter(bytes, path, size - FOOTER_SIZE).map(formatIssue)[0]
  if (problem !== undefined) {
    throw new RepositoryError(
      'PARENT_MISMATCH',
      `${child}: parent ${path} has no valid VHD footer: ${problem}`,
    )
  }
  return decodeFooter(bytes).uniqueId
}

/**
 * Writes a delta backup (docs/design.md §7): for each disk a VHD under
 * `vdis/<job>/<vdi>/<ts>.vhd` — dynamic for a key disk, differencing for a delta, whose header
 * names the parent by UUID (read from the parent's footer) and by path relative to the child — each
 * published atomically with its size known in advance, at most `concurrency` disks at once (XO's
 * `diskPerVmConcurrency`; default 1); then the metadata JSON last, created only if absent. On
 * failure the VHDs written by this call are removed once every disk in flight has stopped
 * (nothing references them yet).
 */
export async function writeDeltaBackup(
  remote: Remote,
  input: {
    readonly metadata: DeltaBackupInput
    readonly timestampMs: number
    readonly disks: readonly DeltaDiskInput[]
    readonly clock?: Clock
    readonly concurrency?: number
  },
  task?: Task,
): Promise<{ readonly id: string; readonly sizeBytes: number }> {
  const { metadata, timestampMs } = input
  const vmUuid = metadata.vm.uuid
  const metaPath = metadataPath(vmUuid, timestampMs)
  const exists = await remote.stat(metaPath).then(
    () => true,
    () => false,
  )
  if (exists)
    throw new RepositoryError('BACKUP_EXISTS', `${metaPath}: a backup with this timestamp already exists`)
  for (const disk of input.disks)
    if (!(disk.vdiRef in metadata.vdis))
      throw new RepositoryError('METADATA_INVALID', `disk ${disk.vdiRef}: no VDI record in the metadata`)
  const written: string[] = []
  let sizeBytes = 0
  const writeDisk = async (disk: DeltaDiskInput, signal: AbortSignal) => {
    const path = vhdPath(vmUuid, metadata.jobId, disk.vdiUuid, timestampMs)
    const parent =
      disk.parentTimestampMs === undefined
        ? undefined
        : vhdPath(vmUuid, metadata.jobId, disk.vdiUuid, disk.parentTimestampMs)
    const stream = planVhdStream(disk.source, {
      uniqueId: disk.uniqueId,
      timestampMs: (input.clock ?? systemClock).now(),
      ...(parent === undefined
        ? {}
        : {
            parent: {
              uniqueId: await readParentUuid(remote, parent, path),
              relativePath: posix.basename(parent),
            },
          }),
    })
    written.push(path)
    await remote.write(path, stream.chunks(), { sizeBytes: stream.sizeBytes, signal })
    sizeBytes += stream.sizeBytes
    task?.progress(sizeBytes)
    return {
      ref: disk.vdiRef,
      relative: path.slice(vmDir(vmUuid).length + 1),
      differencing: parent !== undefined,
    }
  }
  try {
    // mapWithConcurrency awaits every disk in flight before it throws: the cleanup below sees them all.
    const disks = await mapWithConcurrency(
      input.disks,
      Math.max(1, input.concurrency ?? 1),
      (disk, _index, signal) => writeDisk(disk, signal),
      task === undefined ? {} : { signal: task.signal },
    )
    const document: DeltaBackupMetadata = deltaBackupMetadataSchema.parse({
      ...metadata,
      version: '2.0.0',
      mode: 'delta',
      timestamp: timestampMs,
      vhds: Object.fromEntries(disks.map((d) => [d.ref, d.relative])),
      isVhdDifferencing: Object.fromEntries(disks.map((d) => [d.ref, d.differencing])),
      size: sizeBytes,
    })
    // The commit point: from here on the backup exists.
    await remote.write(metaPath, Buffer.from(JSON.stringify(document)), { ifAbsent: true })
  } catch (error) {
    await remote.deleteMany(written).catch((cleanupError: unknown) => {
      task?.warning('could not remove the VHDs of a failed backup; check & repair will', {
        error: String(cleanupError),
      })
    })
    throw error
  }
  return { id: metaPath, sizeBytes }
}
