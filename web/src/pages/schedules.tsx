// Schedules: per job, cron in a time zone, enabled or not, with the server's next run time.
// The panel sits under a job's form; `/schedules` shows one panel per job.
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { api, query } from '../api.ts'
import { formatDateTime, formatRelative } from '../format.ts'
import { useNow, useResource } from '../hooks.ts'
import { useJobs } from '../lookups.ts'
import { Link } from '../router.tsx'
import type { ListOf, ScheduleView } from '../types.ts'
import { ConfirmDialog } from '../ui/dialog.tsx'
import { Card, Empty, ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import { toast } from '../ui/toast.tsx'
import { ScheduleForm } from './schedule-form.tsx'

function ScheduleRow(props: {
  readonly schedule: ScheduleView
  readonly now: number
  readonly onEdit: () => void
  readonly onChanged: () => void
}) {
  const { schedule, now } = props
  const [confirm, setConfirm] = useState(false)
  const [error, setError] = useState<string | undefined>(undefined)
  // The switch moves at once; the server's answer (a reload) confirms it or puts it back.
  const [enabled, setEnabled] = useState(schedule.enabled)
  const put = async (value: boolean): Promise<void> => {
    const { jobId, name, cron, timezone, settings } = schedule
    setEnabled(value)
    try {
      await api('PUT', `/schedules/${encodeURIComponent(schedule.id)}`, {
        jobId,
        name,
        cron,
        timezone,
        enabled: value,
        settings,
      })
      toast(value ? 'Schedule enabled' : 'Schedule disabled')
    } catch (failure) {
      setEnabled(!value)
      toast(failure instanceof Error ? failure.message : String(failure), 'error')
    }
    props.onChanged()
  }
  const remove = async (): Promise<void> => {
    try {
      await api('DELETE', `/schedules/${encodeURIComponent(schedule.id)}`)
      setConfirm(false)
      toast('Schedule deleted')
      props.onChanged()
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure))
    }
  }
  const next = schedule.nextRun ?? undefined
  return (
    <li class="schedule" data-testid="schedule-row" data-schedule-id={schedule.id}>
      <label class="switch" title={enabled ? 'Enabled' : 'Disabled'}>
        <input
          type="checkbox"
          checked={enabled}
          data-testid="schedule-enabled"
          onChange={(e) => void put(e.currentTarget.checked)}
        />
        <span class="switch-track" aria-hidden="true" />
        <span class="sr-only">Enabled</span>
      </label>
      <div class="schedule-main">
        <strong>{schedule.name === '' ? 'Schedule' : schedule.name}</strong>
        <span class="muted small">
          <code>{schedule.cron}</code> · {schedule.timezone}
        </span>
      </div>
      <div class="schedule-next" data-testid="schedule-next">
        {!schedule.enabled ? (
          <span class="muted">disabled</span>
        ) : next === undefined ? (
          <span class="muted">no next run</span>
        ) : (
          <span title={formatDateTime(next, now)}>next {formatRelative(next, now)}</span>
        )}
      </div>
      <div class="row-actions">
        <button type="button" class="button small" onClick={props.onEdit} data-testid="schedule-edit">
          Edit
        </button>
        <button
          type="button"
          class="button small danger-outline"
          data-testid="schedule-delete"
          onClick={() => {
            setError(undefined)
            setConfirm(true)
          }}
        >
          Delete
        </button>
      </div>
      {confirm ? (
        <ConfirmDialog
          title="Delete this schedule?"
          message={`${schedule.cron} (${schedule.timezone}) will no longer start this job.`}
          confirmLabel="Delete schedule"
          error={error}
          onConfirm={() => void remove()}
          onClose={() => {
            setConfirm(false)
          }}
        />
      ) : null}
    </li>
  )
}

/** A job's schedules with add, edit, enable/disable and delete. */
export function SchedulesPanel({
  jobId,
  title,
}: {
  readonly jobId: string
  readonly title?: ComponentChildren
}) {
  const schedules = useResource(
    (signal) => api<ListOf<ScheduleView>>('GET', `/schedules${query({ jobId })}`, undefined, signal),
    [jobId],
    60_000,
  )
  const now = useNow(10_000)
  const [editing, setEditing] = useState<ScheduleView | 'new' | undefined>(undefined)
  const items = schedules.data?.items ?? []
  const done = (): void => {
    setEditing(undefined)
    schedules.reload()
  }
  return (
    <Card
      title={title ?? 'Schedules'}
      testId="schedules-panel"
      actions={
        editing === undefined ? (
          <button
            type="button"
            class="button small"
            data-testid="schedule-new"
            onClick={() => {
              setEditing('new')
            }}
          >
            Add schedule
          </button>
        ) : undefined
      }
    >
      {schedules.error === undefined ? null : <ErrorBox error={schedules.error} onRetry={schedules.reload} />}
      {items.length === 0 && editing === undefined ? (
        <Empty>
          {schedules.loading ? 'Loading…' : 'No schedule: this job runs only when started by hand.'}
        </Empty>
      ) : (
        <ul class="schedules">
          {items.map((schedule) => (
            <ScheduleRow
              key={`${schedule.id}:${schedule.updatedAt}`}
              schedule={schedule}
              now={now}
              onEdit={() => {
                setEditing(schedule)
              }}
              onChanged={schedules.reload}
            />
          ))}
        </ul>
      )}
      {editing === undefined ? null : (
        <ScheduleForm
          jobId={jobId}
          schedule={editing === 'new' ? undefined : editing}
          onDone={done}
          onCancel={() => {
            setEditing(undefined)
          }}
        />
      )}
    </Card>
  )
}

/** `/schedules`: every job's schedules. */
export function SchedulesPage() {
  const jobs = useJobs()
  return (
    <>
      <PageHeader
        title="Schedules"
        subtitle="When each job runs. Times are in each schedule's own time zone."
      />
      {jobs.error === undefined ? null : <ErrorBox error={jobs.error} onRetry={jobs.reload} />}
      {jobs.data === undefined ? (
        jobs.error === undefined ? (
          <Loading />
        ) : null
      ) : jobs.data.items.length === 0 ? (
        <Empty>
          Schedules belong to jobs. <Link href="/jobs/new">Create a job</Link> first.
        </Empty>
      ) : (
        jobs.data.items.map((job) => (
          <SchedulesPanel
            key={job.id}
            jobId={job.id}
            title={<Link href={`/jobs/${job.id}`}>{job.name}</Link>}
          />
        ))
      )}
    </>
  )
}
