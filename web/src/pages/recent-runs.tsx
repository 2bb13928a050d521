// A job's last runs, under its form.
import { api, query } from '../api.ts'
import { useNow, useResource } from '../hooks.ts'
import { jobNames, useJobs } from '../lookups.ts'
import { Link } from '../router.tsx'
import type { ListOf, RunRecord } from '../types.ts'
import { isLive } from '../types.ts'
import { Card, Empty, ErrorBox } from '../ui/page.tsx'
import { RunsTable } from './runs-table.tsx'

/** The five newest runs of job `jobId`, refreshed while one is live. */
export function RecentRuns({ jobId }: { readonly jobId: string }) {
  const runs = useResource(
    (signal) => api<ListOf<RunRecord>>('GET', `/runs${query({ jobId, limit: 5 })}`, undefined, signal),
    [jobId],
    10_000,
  )
  const jobs = useJobs()
  const now = useNow(5000)
  const items = runs.data?.items ?? []
  return (
    <Card
      title="Recent runs"
      testId="job-recent-runs"
      actions={<Link href={`/runs${query({ jobId })}`}>All runs</Link>}
    >
      {runs.error === undefined ? null : <ErrorBox error={runs.error} onRetry={runs.reload} />}
      {items.length === 0 ? (
        <Empty>{runs.loading ? 'Loading…' : 'This job has not run yet.'}</Empty>
      ) : (
        <RunsTable runs={items} names={jobNames(jobs.data)} now={now} />
      )}
      {items.some((r) => isLive(r.status)) ? (
        <p class="muted small">Refreshing while a run is live.</p>
      ) : null}
    </Card>
  )
}
