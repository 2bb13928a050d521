// Names for ids: runs and backups carry job ids, the pages show job names.
import { api } from './api.ts'
import { shortId } from './format.ts'
import type { Resource } from './hooks.ts'
import { useResource } from './hooks.ts'
import type { JobRecord, ListOf, PoolRecord, RemoteRecord, RunRecord } from './types.ts'

/** Every job (for names and pickers). */
export function useJobs(): Resource<ListOf<JobRecord>> {
  return useResource((signal) => api<ListOf<JobRecord>>('GET', '/jobs', undefined, signal), [])
}

/** Every remote. */
export function useRemotes(): Resource<ListOf<RemoteRecord>> {
  return useResource((signal) => api<ListOf<RemoteRecord>>('GET', '/remotes', undefined, signal), [])
}

/** Every pool. */
export function usePools(): Resource<ListOf<PoolRecord>> {
  return useResource((signal) => api<ListOf<PoolRecord>>('GET', '/pools', undefined, signal), [])
}

/** A map from job id to job name. */
export function jobNames(jobs: ListOf<JobRecord> | undefined): ReadonlyMap<string, string> {
  return new Map((jobs?.items ?? []).map((job) => [job.id, job.name]))
}

const param = (run: RunRecord, key: string): string | undefined => {
  const value = run.params[key]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** What a run is about, for lists: the job's name, or the restored / checked VM. */
export function runTitle(run: RunRecord, names: ReadonlyMap<string, string>): string {
  if (run.kind === 'backup')
    return run.jobId === null ? 'Backup' : (names.get(run.jobId) ?? `job ${shortId(run.jobId)}`)
  const fromBackup = param(run, 'backupId')?.split('/')[1]
  const vm =
    run.vms[0]?.name ?? param(run, 'vmName') ?? (fromBackup === undefined ? undefined : shortId(fromBackup))
  const what = run.kind === 'restore' ? 'Restore' : 'Health check'
  return vm === undefined ? what : `${what} of ${vm}`
}
