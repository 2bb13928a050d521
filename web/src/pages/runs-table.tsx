// A table of runs (the Runs page, a job's recent runs): status, what, when, how long, how much.
import { elapsed, formatBytes, formatDateTime, formatDuration, formatRelative } from '../format.ts'
import { runTitle } from '../lookups.ts'
import { Link, navigate } from '../router.tsx'
import type { RunRecord } from '../types.ts'
import { StatusBadge } from '../ui/status.tsx'

function vmCounts(run: RunRecord): string {
  if (run.vms.length === 0) return '—'
  const failed = run.vms.filter((vm) => vm.status === 'failure').length
  const ok = run.vms.filter((vm) => vm.status === 'success').length
  return failed > 0 ? `${ok}/${run.vms.length} ok, ${failed} failed` : `${ok}/${run.vms.length} ok`
}

/** Props of RunsTable. */
export interface RunsTableProps {
  readonly runs: readonly RunRecord[]
  readonly names: ReadonlyMap<string, string>
  readonly now: number
}

/** Runs newest first; a row opens the run page. */
export function RunsTable({ runs, names, now }: RunsTableProps) {
  return (
    <table class="table responsive clickable" data-testid="runs-table">
      <thead>
        <tr>
          <th>Status</th>
          <th>Run</th>
          <th>Started</th>
          <th>Duration</th>
          <th>Size</th>
          <th>VMs</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((run) => (
          <tr
            key={run.id}
            data-testid="run-row"
            data-run-id={run.id}
            data-status={run.status}
            onClick={(e) => {
              if ((e.target as HTMLElement).closest('a') === null) navigate(`/runs/${run.id}`)
            }}
          >
            <td data-label="Status" class="lead">
              <StatusBadge status={run.status} />
            </td>
            <td data-label="Run" class="lead grow">
              <Link href={`/runs/${run.id}`} class="strong">
                {runTitle(run, names)}
              </Link>
              <span class="muted small block">
                {run.kind === 'backup' ? run.trigger : run.kind === 'restore' ? 'restore' : 'health check'}
                {run.reason === null ? '' : ` · ${run.reason}`}
              </span>
            </td>
            <td data-label="Started">
              <span title={formatDateTime(run.start, now)}>{formatRelative(run.start, now)}</span>
            </td>
            <td data-label="Duration">
              {run.status === 'skipped' || run.status === 'missed'
                ? '—'
                : formatDuration(elapsed(run.start, run.end, now))}
            </td>
            <td data-label="Size">{run.sizeBytes > 0 ? formatBytes(run.sizeBytes) : '—'}</td>
            <td data-label="VMs">{vmCounts(run)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}
