// The disks of a delta backup as block sources: per VDI the whole chain its VHD names (the key and
// the deltas above it), read as one disk, each block resolved child → parent with one block in
// memory at a time. Every path comes from the remote (metadata `vhds`, VHD parent locators) and is
// resolved inside the VM folder through the confinement gate: a path leaving it is refused.
import { posix } from 'node:path'
import type { BlockSource, DiskBlock } from '../../formats/block-source.ts'
import { VhdChain } from '../../formats/vhd/vhd-chain.ts'
import type { Remote } from '../../remotes/remote.ts'
import { resolveInVmDir, vmDir } from '../../repository/layout.ts'
import type { BackupListing } from '../../repository/listing.ts'
import { openRemoteFile } from '../../repository/remote-file.ts'
import { resolveReference } from '../../shared/confine.ts'
import { isAbortError } from '../../shared/errors.ts'
import { RestoreError } from './restore-error.ts'

/** One disk of a delta backup: its key in the metadata's `vdis`, its top VHD, its content. */
export interface BackupDisk {
  readonly vdiRef: string
  readonly path: string
  /** How many VHDs its chain has (1 for a key). */
  readonly chainLength: number
  readonly source: BlockSource
}

/** The opened disks of a backup; `close` releases their files. */
export interface OpenedBackupDisks {
  readonly disks: readonly BackupDisk[]
  close(): Promise<void>
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

/** `<backup id>: disk <uuid> (<path>)`, for messages. */
function describe(backup: BackupListing, vdiRef: string, path: string): string {
  const metadata = backup.metadata
  const uuid = metadata.mode === 'delta' ? metadata.vdis[vdiRef]?.uuid : undefined
  return `${backup.id}: disk ${typeof uuid === 'string' ? uuid : vdiRef} (${path})`
}

/** `source` whose read errors name the backup and the disk (aborts pass as they are). */
function naming(source: BlockSource, what: string): BlockSource {
  return {
    virtualSize: source.virtualSize,
    blockSize: source.blockSize,
    blockIndexes: source.blockIndexes,
    async *blocks(): AsyncGenerator<DiskBlock> {
      try {
        yield* source.blocks()
      } catch (error) {
        if (isAbortError(error)) throw error
        throw new RestoreError('RESTORE_BACKUP_UNUSABLE', `${what}: ${messageOf(error)}`, { cause: error })
      }
    },
  }
}

/**
 * `source` cut to `recordedSizeBytes` (the VDI's virtual_size in the metadata) when it is larger
 * only by unallocated space: a VHD made by another tool (qemu-img rounds sizes up to a disk
 * geometry) then restores to the disk size the VM had. Unchanged when no smaller size is recorded,
 * or when an allocated block reaches past it (no data is ever dropped).
 */
export function fitToRecordedSize(source: BlockSource, recordedSizeBytes: unknown): BlockSource {
  const size = recordedSizeBytes
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0 || size % 512 !== 0) return source
  const { blockSize, blockIndexes } = source
  if (size >= source.virtualSize || blockIndexes.some((index) => (index + 1) * blockSize > size))
    return source
  return {
    virtualSize: size,
    blockSize,
    blockIndexes,
    blocks: () => source.blocks(),
  }
}

/**
 * Opens the chain of each of `vdiRefs` (keys of the delta backup's `vhds`) on `remote`: its VHD
 * path resolved inside the VM folder, each parent locator too, each parent's UUID checked. Throws
 * RestoreError RESTORE_BACKUP_UNUSABLE naming the backup, the disk and the file (a path outside
 * the VM folder, a missing parent, a UUID mismatch, a damaged VHD) after closing what it opened.
 */
export async function openBackupDisks(
  remote: Remote,
  backup: BackupListing,
  vdiRefs: readonly string[],
): Promise<OpenedBackupDisks> {
  const metadata = backup.metadata
  if (metadata.mode !== 'delta')
    throw new RestoreError('RESTORE_INVALID', `${backup.id}: a full backup has no disk chains`)
  const dir = vmDir(backup.vmUuid)
  const opened: VhdChain[] = []
  const disks: BackupDisk[] = []
  const close = async (): Promise<void> => {
    await Promise.allSettled(opened.splice(0).map((chain) => chain.close()))
  }
  try {
    for (const vdiRef of vdiRefs) {
      const named = metadata.vhds[vdiRef]
      let path = named ?? ''
      try {
        if (named === undefined) throw new Error('the metadata names no VHD for it')
        path = resolveInVmDir(dir, named, `vhds.${vdiRef}`)
        // Held open: a restore reads every block of the chain (closed with the chain).
        const chain = await VhdChain.open(path, (p) => openRemoteFile(remote, p, { keepOpen: true }), {
          // A parent locator is followed only inside the VM folder (as check & merge do).
          resolveParent: (childPath, parentName) =>
            Promise.resolve(resolveReference(posix.dirname(childPath), parentName, dir)),
        })
        opened.push(chain)
        const what = describe(backup, vdiRef, path)
        disks.push({
          vdiRef,
          path,
          chainLength: chain.disks.length,
          source: naming(chain.toBlockSource(), what),
        })
      } catch (error) {
        throw new RestoreError(
          'RESTORE_BACKUP_UNUSABLE',
          `${describe(backup, vdiRef, path)}: ${messageOf(error)}`,
          {
            details: { object: path === '' ? vdiRef : path },
            cause: error,
          },
        )
      }
    }
  } catch (error) {
    await close()
    throw error
  }
  return { disks, close }
}
