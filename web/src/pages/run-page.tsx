// `/runs/:id`: one run — its facts, its VMs, and its task tree, live while it runs.
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { elapsed, formatBytes, formatDateTime, formatDuration, formatRelative } from '../format.ts'
import { useNow } from '../hooks.ts'
import { useLiveRun } from '../live-run.ts'
import { jobNames, runTitle, useJobs, useRemotes } from '../lookups.ts'
import { Link } from '../router.tsx'
import type { RunRecord } from '../types.ts'
import { isLive } from '../types.ts'
import { Card, Empty, ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import { StatusBadge } from '../ui/status.tsx'
import { toast } from '../ui/toast.tsx'
import { TaskTree } from './task-tree.tsx'

function Facts({ run, now }: { readonly run: RunRecord; readonly now: number }) {
  return (
    <dl class="facts">
      <div>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={run.status} />
        </dd>
      </div>
      <div>
        <dt>Started</dt>
        <dd title={formatRelative(run.start, now)}>{formatDateTime(run.start, now)}</dd>
      </div>
      <div>
        <dt>Duration</dt>
        <dd data-testid="run-duration">{formatDuration(elapsed(run.start, run.end, now))}</dd>
      </div>
      <div>
        <dt>Written</dt>
        <dd>{run.sizeBytes === 0 && isLive(run.status) ? '—' : formatBytes(run.sizeBytes)}</dd>
      </div>
      <div>
        <dt>Trigger</dt>
        <dd>{run.trigger}</dd>
      </div>
      {run.jobId === null ? null : (
        <div>
          <dt>Job</dt>
          <dd>
            <Link href={`/jobs/${run.jobId}`}>open the job</Link>
          </dd>
        </div>
      )}
    </dl>
  )
}

function VmList({ run }: { readonly run: RunRecord }) {
  if (run.vms.length === 0) return null
  return (
    <Card title={`VMs (${run.vms.length})`} testId="run-vms">
      <ul class="plain-list">
        {run.vms.map((vm) => (
          <li key={vm.uuid} class="vm-line" data-testid="run-vm" data-status={vm.status}>
            <StatusBadge status={vm.status} />
            <span title={vm.uuid}>{vm.name ?? vm.uuid}</span>
            {vm.error === undefined ? null : <span class="bad small">{vm.error}</span>}
          </li>
        ))}
      </ul>
    </Card>
  )
}

function CancelButton({
  run,
  onCancelled,
}: {
  readonly run: RunRecord
  readonly onCancelled: (run: RunRecord) => void
}) {
  const [busy, setBusy] = useState(false)
  const cancel = async (): Promise<void> => {
    setBusy(true)
    try {
      const answer = await api<{ run: RunRecord }>('POST', `/runs/${encodeURIComponent(run.id)}/cancel`)
      onCancelled(answer.run)
      toast('Cancelling: the run stops at its next step and cleans up.')
    } catch (error) {
      toast(error instanceof Error ? error.message : String(error), 'error')
      setBusy(false)
    }
  }
  return (
    <button
      type="button"
      class="button danger-outline"
      disabled={busy}
      data-testid="run-cancel"
      onClick={() => void cancel()}
    >
      {busy ? 'Cancelling…' : 'Cancel run'}
    </button>
  )
}

const STREAM_TEXT = {
  connecting: 'connecting to the live log…',
  open: 'live',
  reconnecting: 'connection lost, reconnecting…',
  done: '',
} as const

/** `/runs/:id`. */
export function RunPage({ id }: { readonly id: string }) {
  const live = useLiveRun(id)
  const jobs = useJobs()
  const remotes = useRemotes()
  const now = useNow(1000)
  const run = live.run
  if (run === undefined)
    return live.error === undefined ? <Loading what="Loading the run" /> : <ErrorBox error={live.error} />
  const names = {
    vms: new Map(run.vms.flatMap((vm) => (vm.name === undefined ? [] : [[vm.uuid, vm.name] as const]))),
    remotes: new Map((remotes.data?.items ?? []).map((r) => [r.id, r.name])),
  }
  return (
    <>
      <PageHeader
        title={runTitle(run, jobNames(jobs.data))}
        subtitle={<span class="muted small">run {run.id}</span>}
      >
        {isLive(run.status) ? <CancelButton run={run} onCancelled={live.setRun} /> : null}
      </PageHeader>
      {live.error === undefined ? null : <ErrorBox error={live.error} />}
      <Card testId="run-summary">
        <Facts run={run} now={now} />
        {run.reason === null ? null : (
          <p
            class={run.status === 'failure' || run.status === 'interrupted' ? 'form-error' : 'muted'}
            data-testid="run-reason"
          >
            {run.reason}
          </p>
        )}
      </Card>
      <VmList run={run} />
      <Card
        title="Tasks"
        testId="run-tasks"
        actions={
          STREAM_TEXT[live.stream] === '' ? undefined : (
            <span class={`stream-state stream-${live.stream}`} data-testid="stream-state">
              {STREAM_TEXT[live.stream]}
            </span>
          )
        }
      >
        {live.roots.length === 0 ? (
          <Empty>{isLive(run.status) ? 'Waiting for the first task…' : 'This run has no task log.'}</Empty>
        ) : (
          <TaskTree roots={live.roots} rates={live.rates} names={names} now={now} />
        )}
      </Card>
    </>
  )
}
