// `/jobs/new` and `/jobs/:id`: the job form with Save, Run now and Delete, then (for a saved job)
// its schedules and recent runs. A 400's one-line reason is shown by Save and its field marked.
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError } from '../api.ts'
import { useResource } from '../hooks.ts'
import type { FormField, JobForm } from '../job-form.ts'
import { fieldOfErrorPath, formOfJob, jobOfForm } from '../job-form.ts'
import { usePools, useRemotes } from '../lookups.ts'
import { navigate } from '../router.tsx'
import type { JobRecord } from '../types.ts'
import { ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import { toast } from '../ui/toast.tsx'
import type { Conflict } from './job-actions.tsx'
import { ConflictNotice, JobActions } from './job-actions.tsx'
import { JobEditor } from './job-editor.tsx'
import { RecentRuns } from './recent-runs.tsx'
import { SchedulesPanel } from './schedules.tsx'

/** Why the last Save did not save, and the field at fault when known. */
interface Problem {
  readonly message: string
  readonly field: FormField | undefined
}

function useSave(record: JobRecord | undefined, form: JobForm, onSaved: (record: JobRecord) => void) {
  const [problem, setProblem] = useState<Problem | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const save = async (): Promise<void> => {
    const built = jobOfForm(form, record?.job)
    if (!built.ok) {
      setProblem({ message: built.problem.message, field: built.problem.field })
      return
    }
    setBusy(true)
    setProblem(undefined)
    try {
      const saved =
        record === undefined
          ? await api<JobRecord>('POST', '/jobs', built.value)
          : await api<JobRecord>('PUT', `/jobs/${encodeURIComponent(record.id)}`, built.value)
      toast(record === undefined ? `Job “${saved.name}” created` : 'Job saved')
      onSaved(saved)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      setProblem({ message, field: error instanceof ApiError ? fieldOfErrorPath(error.path) : undefined })
    } finally {
      setBusy(false)
    }
  }
  return { problem, busy, save }
}

function SaveBar({
  problem,
  busy,
  isNew,
}: {
  readonly problem: Problem | undefined
  readonly busy: boolean
  readonly isNew: boolean
}) {
  return (
    <div class="save-bar">
      {problem === undefined ? (
        <span class="muted small">{isNew ? 'Not saved yet.' : ''}</span>
      ) : (
        <p class="form-error" role="alert" data-testid="job-error" data-field={problem.field}>
          {problem.message}
        </p>
      )}
      <button type="submit" class="button primary" disabled={busy} data-testid="job-save">
        {busy ? 'Saving…' : isNew ? 'Create job' : 'Save'}
      </button>
    </div>
  )
}

function JobFormPage({ record }: { readonly record: JobRecord | undefined }) {
  const [form, setForm] = useState(() => formOfJob(record?.job))
  const [current, setCurrent] = useState(record)
  const [conflict, setConflict] = useState<Conflict | undefined>(undefined)
  const remotes = useRemotes()
  const pools = usePools()
  const { problem, busy, save } = useSave(current, form, (saved) => {
    setCurrent(saved)
    if (record === undefined) navigate(`/jobs/${saved.id}`, { replace: true })
  })
  useEffect(() => {
    // Bring the field the server named into view: it may be far above the Save button.
    if (problem?.field !== undefined)
      document.querySelector('[data-invalid="true"]')?.scrollIntoView({ block: 'center' })
  }, [problem])
  return (
    <>
      <PageHeader
        title={current?.name ?? 'New job'}
        subtitle={current === undefined ? undefined : `job ${current.id}`}
      >
        {current === undefined ? null : <JobActions job={current} onConflict={setConflict} />}
      </PageHeader>
      {conflict === undefined ? null : <ConflictNotice conflict={conflict} />}
      <form
        class="stack"
        data-testid="job-form"
        onSubmit={(e) => {
          e.preventDefault()
          void save()
        }}
      >
        <JobEditor
          form={form}
          onChange={setForm}
          invalid={problem?.field}
          remotes={remotes.data?.items ?? []}
          pools={pools.data?.items ?? []}
        />
        <SaveBar problem={problem} busy={busy} isNew={current === undefined} />
      </form>
      {current === undefined ? null : (
        <>
          <SchedulesPanel jobId={current.id} />
          <RecentRuns jobId={current.id} />
        </>
      )}
    </>
  )
}

/** `/jobs/new` (id undefined) or `/jobs/:id`. */
export function JobPage({ id }: { readonly id: string | undefined }) {
  const record = useResource(
    (signal) =>
      id === undefined
        ? Promise.resolve(undefined)
        : api<JobRecord>('GET', `/jobs/${encodeURIComponent(id)}`, undefined, signal),
    [id],
  )
  if (record.error !== undefined) return <ErrorBox error={record.error} onRetry={record.reload} />
  if (record.loading && record.data === undefined && id !== undefined)
    return <Loading what="Loading the job" />
  return <JobFormPage record={record.data} />
}
