// The dashboard: what needs attention first (failed jobs, VMs without a recent backup), then
// what is stored where; refreshed every 15 s while the tab is visible.
import { api } from '../api.ts'
import {
  elapsed,
  formatBytes,
  formatDateTime,
  formatDuration,
  formatRelative,
  plural,
  shortId,
} from '../format.ts'
import { useNow, useResource } from '../hooks.ts'
import { jobNames, runTitle, useJobs } from '../lookups.ts'
import { Link } from '../router.tsx'
import type { Dashboard, RunRecord } from '../types.ts'
import { isLive } from '../types.ts'
import { Card, Empty, ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import { StatusBadge } from '../ui/status.tsx'

function Stat(props: {
  readonly label: string
  readonly value: string
  readonly tone?: 'bad' | 'warn' | 'live' | undefined
  readonly href?: string
  readonly testId: string
}) {
  const body = (
    <>
      <span class="stat-value">{props.value}</span>
      <span class="stat-label">{props.label}</span>
    </>
  )
  const cls = `stat${props.tone === undefined ? '' : ` stat-${props.tone}`}`
  return props.href === undefined ? (
    <div class={cls} data-testid={props.testId}>
      {body}
    </div>
  ) : (
    <Link href={props.href} class={cls} data-testid={props.testId}>
      {body}
    </Link>
  )
}

function LastRun({
  run,
  title,
  now,
}: {
  readonly run: RunRecord
  readonly title: string
  readonly now: number
}) {
  return (
    <li class="run-row" data-testid="dashboard-last-run" data-status={run.status}>
      <StatusBadge status={run.status} />
      <div class="run-row-main">
        <Link href={`/runs/${run.id}`} class="run-row-title">
          {title}
        </Link>
        {run.reason === null ? null : <span class="run-row-reason">{run.reason}</span>}
      </div>
      <div class="run-row-facts">
        <span title={formatDateTime(run.start, now)}>{formatRelative(run.start, now)}</span>
        <span>{formatDuration(elapsed(run.start, run.end, now))}</span>
        <span>{run.sizeBytes > 0 ? formatBytes(run.sizeBytes) : '—'}</span>
      </div>
    </li>
  )
}

function Stats({ data }: { readonly data: Dashboard }) {
  const failed = data.lastRuns.filter((r) => r.status === 'failure' || r.status === 'interrupted').length
  const stored = data.remotes.reduce((sum, r) => sum + r.sizeBytes, 0)
  const backups = data.remotes.reduce((sum, r) => sum + r.backups, 0)
  return (
    <div class="stats">
      <Stat
        label="running now"
        value={String(data.running)}
        tone={data.running > 0 ? 'live' : undefined}
        href="/runs?status=running"
        testId="stat-running"
      />
      <Stat
        label={`of ${plural(data.lastRuns.length, 'job')} failed last time`}
        value={String(failed)}
        tone={failed > 0 ? 'bad' : undefined}
        testId="stat-failed"
      />
      <Stat
        label="VMs without a recent backup"
        value={String(data.staleVms.length)}
        tone={data.staleVms.length > 0 ? 'warn' : undefined}
        testId="stat-stale"
      />
      <Stat
        label={`stored in ${plural(backups, 'backup')}`}
        value={formatBytes(stored)}
        href="/backups"
        testId="stat-stored"
      />
    </div>
  )
}

function Details({
  data,
  names,
  now,
}: {
  readonly data: Dashboard
  readonly names: ReadonlyMap<string, string>
  readonly now: number
}) {
  return (
    <>
      <Card title="Last run per job" testId="dashboard-last-runs">
        {data.lastRuns.length === 0 ? (
          <Empty>
            No job has run yet. <Link href="/jobs/new">Create a job</Link>
          </Empty>
        ) : (
          <ul class="run-list">
            {data.lastRuns.map((run) => (
              <LastRun key={run.id} run={run} title={runTitle(run, names)} now={now} />
            ))}
          </ul>
        )}
      </Card>
      <div class="columns">
        <Card title="VMs without a recent backup" testId="dashboard-stale">
          {data.staleVms.length === 0 ? (
            <Empty>Every VM has a recent backup.</Empty>
          ) : (
            <ul class="plain-list">
              {data.staleVms.map((vm) => (
                <li key={vm.uuid} class="split">
                  <span title={vm.uuid}>{vm.name === '' ? shortId(vm.uuid) : vm.name}</span>
                  <span class={vm.lastSuccess === null ? 'bad' : 'warn'}>
                    {vm.lastSuccess === null
                      ? 'never backed up'
                      : `last ${formatRelative(vm.lastSuccess, now)}`}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title="Repositories" testId="dashboard-remotes">
          {data.remotes.length === 0 ? (
            <Empty>
              No remote yet. <Link href="/remotes">Add one</Link>
            </Empty>
          ) : (
            <ul class="plain-list">
              {data.remotes.map((remote) => (
                <li key={remote.id} class="split">
                  <Link href={`/backups?remote=${encodeURIComponent(remote.id)}`}>{remote.name}</Link>
                  {remote.error === undefined ? (
                    <span>
                      {formatBytes(remote.sizeBytes)} · {plural(remote.backups, 'backup')}
                    </span>
                  ) : (
                    <span class="bad" title={remote.error}>
                      unreachable: {remote.error}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </>
  )
}

/** `/`: the dashboard. */
export function DashboardPage() {
  const dashboard = useResource(
    (signal) => api<Dashboard>('GET', '/dashboard', undefined, signal),
    [],
    15_000,
  )
  const jobs = useJobs()
  const now = useNow(5000)
  const data = dashboard.data
  const anyLive = data?.lastRuns.some((r) => isLive(r.status)) ?? false
  return (
    <>
      <PageHeader
        title="Dashboard"
        subtitle={anyLive ? 'A job is running: this page refreshes itself.' : undefined}
      >
        <Link href="/jobs/new" class="button primary" data-testid="dashboard-new-job">
          New job
        </Link>
      </PageHeader>
      {dashboard.error === undefined ? null : <ErrorBox error={dashboard.error} onRetry={dashboard.reload} />}
      {data === undefined ? (
        dashboard.error === undefined ? (
          <Loading />
        ) : null
      ) : (
        <>
          <Stats data={data} />
          <Details data={data} names={jobNames(jobs.data)} now={now} />
        </>
      )}
    </>
  )
}
