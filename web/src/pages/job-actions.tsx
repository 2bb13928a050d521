// What a saved job's header does: Run now (a 409 says "already running" and links the run) and
// Delete (confirmed).
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, query } from '../api.ts'
import { useAction } from '../hooks.ts'
import { Link, navigate } from '../router.tsx'
import type { JobRecord, ListOf, RunRecord } from '../types.ts'
import { ConfirmDialog } from '../ui/dialog.tsx'
import { toast } from '../ui/toast.tsx'

/** What a 409 on Run now told us: the refused request's run and the one still running. */
export interface Conflict {
  readonly skipped: RunRecord | undefined
  readonly running: RunRecord | undefined
}

/** Starts job `jobId`: its new run, or the conflict when it is already running. */
export async function runJob(jobId: string): Promise<{ run: RunRecord } | { conflict: Conflict }> {
  try {
    return await api<{ run: RunRecord }>('POST', `/jobs/${encodeURIComponent(jobId)}/run`, {})
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 409) throw error
    // The 409 carries the run it recorded as skipped; the one to watch is the running one.
    const body = error.body as { run?: RunRecord } | undefined
    const running = await api<ListOf<RunRecord>>(
      'GET',
      `/runs${query({ jobId, status: 'running', limit: 1 })}`,
    ).then(
      (list) => list.items[0],
      () => undefined,
    )
    return { conflict: { skipped: body?.run, running } }
  }
}

/** The "already running" notice with a link to the running run (or the skipped one). */
export function ConflictNotice({ conflict }: { readonly conflict: Conflict }) {
  const run = conflict.running ?? conflict.skipped
  return (
    <div class="notice warn-box" role="alert" data-testid="job-run-conflict">
      <strong>Already running.</strong>
      {run === undefined ? null : (
        <Link href={`/runs/${run.id}`} data-testid="job-run-conflict-link">
          {conflict.running === undefined ? 'See the skipped request' : 'Watch the current run'}
        </Link>
      )}
    </div>
  )
}

/** Run now and Delete for `job`; `onConflict` receives the 409's details. */
export function JobActions({
  job,
  onConflict,
}: {
  readonly job: JobRecord
  readonly onConflict: (c: Conflict | undefined) => void
}) {
  const [confirm, setConfirm] = useState(false)
  const run = useAction(async () => {
    onConflict(undefined)
    const outcome = await runJob(job.id)
    if ('run' in outcome) navigate(`/runs/${outcome.run.id}`)
    else onConflict(outcome.conflict)
  })
  const remove = useAction(async () => {
    await api('DELETE', `/jobs/${encodeURIComponent(job.id)}`)
    toast(`Job “${job.name}” deleted`)
    navigate('/jobs')
  })
  useEffect(() => {
    if (run.error !== undefined) toast(run.error, 'error')
  }, [run.error])
  return (
    <>
      <button
        type="button"
        class="button primary"
        disabled={run.busy}
        data-testid="job-run"
        onClick={() => void run.run()}
      >
        Run now
      </button>
      <button
        type="button"
        class="button danger-outline"
        data-testid="job-delete"
        onClick={() => {
          remove.setError(undefined)
          setConfirm(true)
        }}
      >
        Delete
      </button>
      {confirm ? (
        <ConfirmDialog
          title="Delete this job?"
          message={`“${job.name}” will be deleted. This cannot be undone.`}
          confirmLabel="Delete job"
          busy={remove.busy}
          error={remove.error}
          onConfirm={() => void remove.run()}
          onClose={() => {
            setConfirm(false)
          }}
        />
      ) : null}
    </>
  )
}
