import type { Remote } from '../../remotes/remote.ts'
import { bufferBlockSource } from '../../formats/vhd/testing/random-disk.ts'
import { writeFullBackup } from '../backup-writer.ts'
import type { DeltaBackupInput } from '../delta-writer.ts'
import { writeDeltaBackup } from '../delta-writer.ts'
import { deltaMetadata, fullMetadata, IDS } from './sample-metadata.ts'

const MiB = 1024 * 1024
const DAY = 86_400_000
/** First backup time of the crash scenario. */
export const CRASH_T0 = Date.UTC(2026, 10, 1)
/** Backups the scenario writes: a delta chain of two disks, with a full backup after every third. */
export const CRASH_BACKUPS = 8

/** The raw content of disk `k` (0 or 1) after backup `i`: each backup rewrites one block with its index. */
export function crashDiskContent(k: number, i: number): Uint8Array {
  const disk = new Uint8Array(6 * MiB)
  disk.fill(0x10 + k, 0, 4096)
  for (let j = 1; j <= i; j++)
    disk.fill(j * 7 + k, ((j % 3) * 2 + 0) * MiB + 512 * j, ((j % 3) * 2 + 0) * MiB + 512 * j + 8192)
  return disk
}

function changedBlock(i: number): number {
  return (i % 3) * 1 // the block rewritten by backup i (2 MiB blocks)
}

const deltaInput: DeltaBackupInput = (() => {
  const { jobId, scheduleId, vm, vmSnapshot, vbds, vdis, vifs } = deltaMetadata(CRASH_T0)
  return { jobId, scheduleId, vm, vmSnapshot, vbds, vdis, vifs }
})()

/** The XVA bytes of the full backup written after delta backup `i` (content does not matter, only integrity). */
export function crashXva(i: number): Uint8Array {
  return new Uint8Array(3 * MiB + 512).fill(i + 1)
}

/**
 * Writes the scenario's backups from `from` on (a key, then deltas chained day by day, each disk's
 * delta holding exactly the rewritten block; a full backup after every third), calling `onDone`
 * after each one is committed.
 */
export async function writeCrashScenario(
  remote: Remote,
  from: number,
  onDone: (i: number) => void,
): Promise<void> {
  for (let i = from; i < CRASH_BACKUPS; i++) {
    await writeDeltaBackup(remote, {
      metadata: deltaInput,
      timestampMs: CRASH_T0 + i * DAY,
      disks: [0, 1].map((k) => ({
        vdiRef: k === 0 ? 'OpaqueRef:vdi-a' : 'OpaqueRef:vdi-b',
        vdiUuid: k === 0 ? IDS.vdiA : IDS.vdiB,
        source: bufferBlockSource(crashDiskContent(k, i), 2 * MiB, i === 0 ? [0, 1, 2] : [changedBlock(i)]),
        uniqueId: `00000000-0000-4000-8000-${String(i * 2 + k).padStart(12, '0')}`,
        ...(i === 0 ? {} : { parentTimestampMs: CRASH_T0 + (i - 1) * DAY }),
      })),
    })
    if (i % 3 === 2) {
      const { jobId, scheduleId, vm, vmSnapshot } = fullMetadata(CRASH_T0)
      const xva = crashXva(i)
      await writeFullBackup(remote, {
        metadata: { jobId, scheduleId, vm, vmSnapshot },
        timestampMs: CRASH_T0 + i * DAY + 3_600_000,
        xva: (async function* () {
          for (let at = 0; at < xva.length; at += 256 * 1024)
            yield await Promise.resolve(xva.subarray(at, at + 256 * 1024))
        })(),
      })
    }
    onDone(i)
  }
}
