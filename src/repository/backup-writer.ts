import type { Remote } from '../remotes/remote.ts'
import { formatBackupTimestamp } from '../shared/timestamps.ts'
import type { Task } from '../tasks/task.ts'
import { md5ChecksumStage } from './checksum-file.ts'
import { metadataPath, xvaPath } from './layout.ts'
import type { FullBackupMetadata } from './metadata.ts'
import { fullBackupMetadataSchema } from './metadata.ts'
import { RepositoryError } from './repository-error.ts'

/** What a full backup needs besides its data: the metadata fields the engine knows. */
export type FullBackupInput = Pick<FullBackupMetadata, 'jobId' | 'scheduleId' | 'vm' | 'vmSnapshot' | 'tags'>

/** The result of writing a backup: its metadata path (its id) and the bytes stored. */
export interface WrittenBackup {
  readonly id: string
  readonly sizeBytes: number
}

async function assertAbsent(remote: Remote, path: string): Promise<void> {
  try {
    await remote.stat(path)
  } catch {
    return
  }
  throw new RepositoryError('BACKUP_EXISTS', `${path}: a backup with this timestamp already exists`)
}

/**
 * Writes a full backup in the order of docs/design.md §7: the XVA (published atomically by the
 * remote), then `<ts>.xva.checksum` (`$1$$<md5>` of the stored bytes), then the metadata JSON
 * last, created only if absent. A failure at any step leaves no metadata, so nothing half-written
 * is ever listed as a backup; orphaned data is removed by check & repair.
 */
export async function writeFullBackup(
  remote: Remote,
  input: {
    readonly metadata: FullBackupInput
    readonly timestampMs: number
    readonly xva: AsyncIterable<Uint8Array>
    readonly sizeBytes?: number
  },
  task?: Task,
): Promise<WrittenBackup> {
  const vmUuid = input.metadata.vm.uuid
  const metaPath = metadataPath(vmUuid, input.timestampMs)
  await assertAbsent(remote, metaPath)
  const dataPath = xvaPath(vmUuid, input.timestampMs)
  const checksum = md5ChecksumStage()
  let sizeBytes = 0
  const counted = async function* (source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of source) {
      sizeBytes += chunk.byteLength
      task?.progress(sizeBytes, input.sizeBytes)
      yield chunk
    }
  }
  await remote.write(dataPath, counted(checksum.stage(input.xva)), {
    ...(input.sizeBytes === undefined ? {} : { sizeBytes: input.sizeBytes }),
    ...(task === undefined ? {} : { signal: task.signal }),
  })
  await remote.write(`${dataPath}.checksum`, Buffer.from(checksum.text()))
  const metadata: FullBackupMetadata = fullBackupMetadataSchema.parse({
    ...input.metadata,
    version: '2.0.0',
    mode: 'full',
    timestamp: input.timestampMs,
    xva: `./${formatBackupTimestamp(input.timestampMs)}.xva`,
    size: sizeBytes,
  })
  // The commit point: from here on the backup exists (and only if every byte above is stored).
  await remote.write(metaPath, Buffer.from(JSON.stringify(metadata)), { ifAbsent: true })
  return { id: metaPath, sizeBytes }
}
