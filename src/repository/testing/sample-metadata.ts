import { formatBackupTimestamp } from '../../shared/timestamps.ts'
import type { DeltaBackupMetadata, FullBackupMetadata } from '../metadata.ts'

/** Ids used by the repository tests. */
export const IDS = {
  vm: '0f5d2a3c-1b2c-4d5e-8f90-a1b2c3d4e5f6',
  job: '8c1a6a4e-3d2b-4c5e-9f10-112233445566',
  schedule: 'b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e',
  vdiA: 'aaaaaaaa-1111-4222-8333-444444444444',
  vdiB: 'bbbbbbbb-1111-4222-8333-444444444444',
} as const

const vm = {
  uuid: IDS.vm,
  name_label: 'web-01',
  power_state: 'Running',
  other_config: { 'xo:backup:job': IDS.job },
}

/** XO-shaped metadata of a full backup taken at `timestampMs`. */
export function fullMetadata(timestampMs: number): FullBackupMetadata {
  return {
    version: '2.0.0',
    mode: 'full',
    jobId: IDS.job,
    scheduleId: IDS.schedule,
    timestamp: timestampMs,
    vm,
    vmSnapshot: { uuid: '99999999-1111-4222-8333-444444444444', is_a_snapshot: true },
    xva: `./${formatBackupTimestamp(timestampMs)}.xva`,
    size: 3 * 1024 * 1024,
  }
}

/** XO-shaped metadata of a delta backup of two disks taken at `timestampMs`. */
export function deltaMetadata(timestampMs: number, differencing = true): DeltaBackupMetadata {
  const ts = formatBackupTimestamp(timestampMs)
  return {
    version: '2.0.0',
    mode: 'delta',
    jobId: IDS.job,
    scheduleId: IDS.schedule,
    timestamp: timestampMs,
    vm,
    vmSnapshot: { uuid: '99999999-1111-4222-8333-444444444444' },
    vbds: { 'OpaqueRef:vbd-a': { VDI: 'OpaqueRef:vdi-a' }, 'OpaqueRef:vbd-b': { VDI: 'OpaqueRef:vdi-b' } },
    vdis: {
      'OpaqueRef:vdi-a': { uuid: '77777777-1111-4222-8333-444444444444', $snapshot_of$uuid: IDS.vdiA },
      'OpaqueRef:vdi-b': { uuid: '66666666-1111-4222-8333-444444444444', $snapshot_of$uuid: IDS.vdiB },
    },
    vifs: {},
    vhds: {
      'OpaqueRef:vdi-a': `vdis/${IDS.job}/${IDS.vdiA}/${ts}.vhd`,
      'OpaqueRef:vdi-b': `vdis/${IDS.job}/${IDS.vdiB}/${ts}.vhd`,
    },
    isVhdDifferencing: { 'OpaqueRef:vdi-a': differencing, 'OpaqueRef:vdi-b': differencing },
    size: 4096,
  }
}
