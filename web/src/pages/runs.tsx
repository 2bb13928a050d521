// `/runs`: run history, newest first, filtered by status and job, paged; the filters live in the
// URL (`?status=failure&jobId=…&offset=50`) so a filtered view can be bookmarked or shared.
import { api, query } from '../api.ts'
import { useNow, useResource } from '../hooks.ts'
import { jobNames, useJobs } from '../lookups.ts'
import { navigate, useLocation } from '../router.tsx'
import type { ListOf, RunRecord } from '../types.ts'
import { isLive, RUN_STATES } from '../types.ts'
import { Empty, ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import { RunsTable } from './runs-table.tsx'

/** Runs per page. */
export const PAGE_SIZE = 50

interface Filters {
  readonly status: string
  readonly jobId: string
  readonly offset: number
}

const go = (filters: Filters): void => {
  navigate(
    `/runs${query({
      status: filters.status,
      jobId: filters.jobId,
      offset: filters.offset === 0 ? undefined : filters.offset,
    })}`,
  )
}

function FilterBar({
  filters,
  jobs,
}: {
  readonly filters: Filters
  readonly jobs: ReadonlyMap<string, string>
}) {
  const chip = (status: string, label: string) => (
    <button
      key={status}
      type="button"
      class={filters.status === status ? 'chip-button active' : 'chip-button'}
      aria-pressed={filters.status === status}
      data-testid={`runs-filter-${status === '' ? 'all' : status}`}
      onClick={() => {
        go({ ...filters, status, offset: 0 })
      }}
    >
      {label}
    </button>
  )
  return (
    <div class="filter-bar">
      <div class="chip-row" role="group" aria-label="Status">
        {chip('', 'all')}
        {RUN_STATES.map((s) => chip(s, s === 'failure' ? 'failed' : s))}
      </div>
      <select
        aria-label="Job"
        value={filters.jobId}
        data-testid="runs-filter-job"
        onChange={(e) => {
          go({ ...filters, jobId: e.currentTarget.value, offset: 0 })
        }}
      >
        <option value="">all jobs</option>
        {[...jobs].map(([id, name]) => (
          <option key={id} value={id}>
            {name}
          </option>
        ))}
      </select>
    </div>
  )
}

function Pager({
  filters,
  total,
  shown,
}: {
  readonly filters: Filters
  readonly total: number
  readonly shown: number
}) {
  const first = total === 0 ? 0 : filters.offset + 1
  return (
    <nav class="pager" aria-label="Pages">
      <button
        type="button"
        class="button small"
        disabled={filters.offset === 0}
        data-testid="runs-prev"
        onClick={() => {
          go({ ...filters, offset: Math.max(0, filters.offset - PAGE_SIZE) })
        }}
      >
        ← Newer
      </button>
      <span class="muted" data-testid="runs-range">
        {first}–{filters.offset + shown} of {total}
      </span>
      <button
        type="button"
        class="button small"
        disabled={filters.offset + shown >= total}
        data-testid="runs-next"
        onClick={() => {
          go({ ...filters, offset: filters.offset + PAGE_SIZE })
        }}
      >
        Older →
      </button>
    </nav>
  )
}

/** `/runs`: the history table. */
export function RunsPage() {
  const { search } = useLocation()
  const offset = Number(search.get('offset') ?? '0')
  const filters: Filters = {
    status: search.get('status') ?? '',
    jobId: search.get('jobId') ?? '',
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
  }
  const runs = useResource(
    (signal) =>
      api<ListOf<RunRecord>>(
        'GET',
        `/runs${query({ status: filters.status, jobId: filters.jobId, limit: PAGE_SIZE, offset: filters.offset })}`,
        undefined,
        signal,
      ),
    [filters.status, filters.jobId, filters.offset],
    10_000,
  )
  const jobs = useJobs()
  const now = useNow(5000)
  const names = jobNames(jobs.data)
  const items = runs.data?.items ?? []
  return (
    <>
      <PageHeader
        title="Runs"
        subtitle={
          items.some((r) => isLive(r.status))
            ? 'Runs in progress: refreshing every 10 s.'
            : 'Every backup, restore and health check.'
        }
      />
      <FilterBar filters={filters} jobs={names} />
      {runs.error === undefined ? null : <ErrorBox error={runs.error} onRetry={runs.reload} />}
      {runs.data === undefined ? (
        runs.error === undefined ? (
          <Loading />
        ) : null
      ) : items.length === 0 ? (
        <Empty>No run matches.</Empty>
      ) : (
        <>
          <div class="card flush">
            <RunsTable runs={items} names={names} now={now} />
          </div>
          <Pager filters={filters} total={runs.data.total ?? items.length} shown={items.length} />
        </>
      )}
    </>
  )
}
