// `/jobs`: every job with its targets, VMs, schedules and last run.
import type { JsonObject } from '../../../src/shared/json.ts'
import { api } from '../api.ts'
import { formatDateTime, formatRelative } from '../format.ts'
import { useNow, useResource } from '../hooks.ts'
import { idsOfPattern } from '../job-form.ts'
import { useJobs, useRemotes } from '../lookups.ts'
import { Link } from '../router.tsx'
import type { JobRecord, ListOf, RunRecord, ScheduleView } from '../types.ts'
import { Empty, ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import { StatusBadge } from '../ui/status.tsx'

function vmsText(job: JsonObject): string {
  const ids = idsOfPattern(job.vms)
  if (ids === undefined) return 'smart selection'
  return ids.length === 1 ? '1 VM' : `${ids.length} VMs`
}

function targetsText(job: JsonObject, remoteNames: ReadonlyMap<string, string>): string {
  const remotes = (idsOfPattern(job.remotes) ?? []).map((id) => remoteNames.get(id) ?? id)
  const srs = idsOfPattern(job.srs) ?? []
  const parts = [...remotes]
  if (srs.length > 0) parts.push(srs.length === 1 ? '1 SR' : `${srs.length} SRs`)
  return parts.length === 0 ? 'no target' : parts.join(', ')
}

function nextRunOf(schedules: readonly ScheduleView[]): number | undefined {
  const times = schedules
    .filter((s) => s.enabled && typeof s.nextRun === 'number')
    .map((s) => s.nextRun as number)
  return times.length === 0 ? undefined : Math.min(...times)
}

interface RowProps {
  readonly job: JobRecord
  readonly remoteNames: ReadonlyMap<string, string>
  readonly schedules: readonly ScheduleView[]
  readonly lastRun: RunRecord | undefined
  readonly now: number
}

function JobRow({ job, remoteNames, schedules, lastRun, now }: RowProps) {
  const next = nextRunOf(schedules)
  const mode = job.job.mode === 'full' ? 'full' : 'delta'
  return (
    <tr data-testid="job-row" data-job-id={job.id}>
      <td data-label="Job" class="lead grow">
        <Link href={`/jobs/${job.id}`} class="strong">
          {job.name}
        </Link>
      </td>
      <td data-label="Mode">
        <span class="tag">{mode}</span>
      </td>
      <td data-label="Targets" class="grow">
        {targetsText(job.job, remoteNames)}
      </td>
      <td data-label="VMs">{vmsText(job.job)}</td>
      <td data-label="Next run">
        {next === undefined ? (
          <span class="muted">{schedules.length === 0 ? 'no schedule' : 'disabled'}</span>
        ) : (
          <span title={formatDateTime(next, now)}>{formatRelative(next, now)}</span>
        )}
      </td>
      <td data-label="Last run">
        {lastRun === undefined ? (
          <span class="muted">never</span>
        ) : (
          <Link href={`/runs/${lastRun.id}`} class="inline-status">
            <StatusBadge status={lastRun.status} />
            <span class="muted">{formatRelative(lastRun.start, now)}</span>
          </Link>
        )}
      </td>
    </tr>
  )
}

function JobsTable(props: {
  readonly jobs: readonly JobRecord[]
  readonly schedules: readonly ScheduleView[]
  readonly runs: readonly RunRecord[]
}) {
  const remotes = useRemotes()
  const now = useNow(10_000)
  const remoteNames = new Map((remotes.data?.items ?? []).map((r) => [r.id, r.name]))
  // Runs come newest first: the first backup run seen for a job is its last one.
  const lastRuns = new Map<string, RunRecord>()
  for (const run of props.runs)
    if (run.kind === 'backup' && run.jobId !== null && !lastRuns.has(run.jobId)) lastRuns.set(run.jobId, run)
  return (
    <div class="card flush">
      <table class="table responsive" data-testid="jobs-table">
        <thead>
          <tr>
            <th>Job</th>
            <th>Mode</th>
            <th>Targets</th>
            <th>VMs</th>
            <th>Next run</th>
            <th>Last run</th>
          </tr>
        </thead>
        <tbody>
          {props.jobs.map((job) => (
            <JobRow
              key={job.id}
              job={job}
              remoteNames={remoteNames}
              schedules={props.schedules.filter((s) => s.jobId === job.id)}
              lastRun={lastRuns.get(job.id)}
              now={now}
            />
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** `/jobs`: the job list. */
export function JobsPage() {
  const jobs = useJobs()
  const schedules = useResource((s) => api<ListOf<ScheduleView>>('GET', '/schedules', undefined, s), [])
  const runs = useResource((s) => api<ListOf<RunRecord>>('GET', '/runs?limit=200', undefined, s), [], 30_000)
  return (
    <>
      <PageHeader title="Jobs" subtitle="What is backed up, where, and when.">
        <Link href="/jobs/new" class="button primary" data-testid="jobs-new">
          New job
        </Link>
      </PageHeader>
      {jobs.error === undefined ? null : <ErrorBox error={jobs.error} onRetry={jobs.reload} />}
      {jobs.data === undefined ? (
        jobs.error === undefined ? (
          <Loading />
        ) : null
      ) : jobs.data.items.length === 0 ? (
        <Empty>
          No job yet. <Link href="/jobs/new">Create the first one</Link>
        </Empty>
      ) : (
        <JobsTable
          jobs={jobs.data.items}
          schedules={schedules.data?.items ?? []}
          runs={runs.data?.items ?? []}
        />
      )}
    </>
  )
}
