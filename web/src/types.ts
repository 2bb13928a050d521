// The API's answers as docs/api.md describes them; records come from the server's own model.
import type {
  JobRecord,
  PoolRecord,
  RemoteRecord,
  RunRecord,
  RunState,
  ScheduleRecord,
} from '../../src/daemon/model.ts'
import type { TaskTreeNode } from '../../src/tasks/tree.ts'

export type { JobRecord, PoolRecord, RemoteRecord, RunRecord, RunState, ScheduleRecord, TaskTreeNode }

/** `{items, total}` of list routes (total on runs). */
export interface ListOf<T> {
  readonly items: readonly T[]
  readonly total?: number
}

/** A schedule as the API answers it: the record plus its next due time. */
export type ScheduleView = ScheduleRecord & { readonly nextRun?: number | null }

/** A VM of a pool (`GET /api/pools/{id}/vms`). */
export interface PoolVm {
  readonly uuid: string
  readonly name: string
  readonly powerState: string
  readonly tags: readonly string[]
}

/** An SR of a pool (`GET /api/pools/{id}/srs`). */
export interface PoolSr {
  readonly uuid: string
  readonly name: string
  readonly type: string
  readonly sizeBytes: number
  readonly usedBytes: number
}

/** A backup in a remote (`GET /api/remotes/{id}/backups`). */
export interface BackupItem {
  readonly id: string
  readonly vmUuid: string
  readonly vmName: string
  readonly jobId: string
  readonly jobName: string
  readonly scheduleId: string
  readonly mode: 'full' | 'delta'
  readonly timestamp: number
  readonly sizeBytes: number
  readonly complete: boolean
}

/** `GET /api/dashboard`. */
export interface Dashboard {
  readonly lastRuns: readonly RunRecord[]
  readonly staleVms: readonly {
    readonly uuid: string
    readonly name: string
    readonly lastSuccess: number | null
  }[]
  readonly remotes: readonly {
    readonly id: string
    readonly name: string
    readonly backups: number
    readonly sizeBytes: number
    readonly error?: string
  }[]
  readonly running: number
}

/** `GET /api/runs/{id}`. */
export interface RunDetail {
  readonly run: RunRecord
  readonly tree: TaskTreeNode | null
}

/** Every run status, in the order the filter shows them. */
export const RUN_STATES: readonly RunState[] = [
  'running',
  'pending',
  'success',
  'failure',
  'interrupted',
  'skipped',
  'missed',
]

/** True while a run may still change (the stream and the Cancel button are live). */
export function isLive(status: RunState): boolean {
  return status === 'running' || status === 'pending'
}
