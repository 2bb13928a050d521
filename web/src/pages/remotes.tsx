// `/remotes`: backup repositories — list, add, test (the CLI's `remote test`), delete. A URL can
// carry keys, so it is typed in a password field and only shown back with its secrets as ***.
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { formatBytes, formatDuration, formatRate } from '../format.ts'
import { useAction } from '../hooks.ts'
import { useRemotes } from '../lookups.ts'
import type { RemoteRecord } from '../types.ts'
import { FormCard, TextField } from '../ui/fields.tsx'
import { Card, Empty, ErrorBox, Loading, PageHeader } from '../ui/page.tsx'
import type { TestOutcome } from '../ui/record-row.tsx'
import { RecordRow } from '../ui/record-row.tsx'
import { toast } from '../ui/toast.tsx'

type TestAnswer = Readonly<Record<string, unknown>>

const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined)

/** A message out of an error field: a string, or an object's `message`. */
export function messageOf(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'object' && value !== null && 'message' in value) return String(value.message)
  return JSON.stringify(value)
}

function stepLines(steps: readonly Record<string, unknown>[]): string[] {
  return steps.map((step) => {
    const ms = num(step.ms)
    const time = ms === undefined ? '' : ` (${formatDuration(ms)})`
    const error = step.error === undefined ? '' : `: ${messageOf(step.error)}`
    return `${step.ok === true ? '✓' : '✗'} ${String(step.name)}${time}${error}`
  })
}

/** The lines of a remote test answer (docs/api.md's `{ok, steps}` or the CLI's `{success, …}`). */
export function testLines(answer: TestAnswer): TestOutcome {
  const ok = answer.ok === true || answer.success === true
  if (Array.isArray(answer.steps)) return { ok, lines: stepLines(answer.steps as Record<string, unknown>[]) }
  if (!ok) {
    const step = typeof answer.step === 'string' ? ` at step ${answer.step}` : ''
    return { ok, lines: [`failed${step}: ${messageOf(answer.error)}`] }
  }
  const info = answer.info as { freeBytes?: unknown } | undefined
  const free = num(info?.freeBytes)
  const lines = [
    formatRate(num(answer.writeBytesPerSec)) === ''
      ? ''
      : `write ${formatRate(num(answer.writeBytesPerSec))}`,
    formatRate(num(answer.readBytesPerSec)) === '' ? '' : `read ${formatRate(num(answer.readBytesPerSec))}`,
    free === undefined ? '' : `${formatBytes(free)} free`,
  ]
  return { ok, lines: lines.filter((line) => line !== '') }
}

function RemoteRow({ remote, onDeleted }: { readonly remote: RemoteRecord; readonly onDeleted: () => void }) {
  const path = `/remotes/${encodeURIComponent(remote.id)}`
  return (
    <RecordRow
      kind="remote"
      id={remote.id}
      title={remote.name}
      detail={<code class="muted small break">{remote.url}</code>}
      test={async () => testLines(await api<TestAnswer>('POST', `${path}/test`))}
      deleteTitle="Delete this remote?"
      deleteMessage={`The server forgets “${remote.name}”. The backups stored there are not deleted.`}
      onDelete={async () => {
        await api('DELETE', path)
        toast(`Remote “${remote.name}” deleted`)
        onDeleted()
      }}
    />
  )
}

const URL_HINT = (
  <>
    <code>file:///path</code>, <code>nfs://host/export</code>, <code>smb://user:pass@host\share</code>,{' '}
    <code>s3://key:secret@host/bucket</code>
  </>
)

function AddRemote({ onAdded }: { readonly onAdded: () => void }) {
  const [name, setName] = useState('')
  const [url, setUrl] = useState('')
  const [show, setShow] = useState(false)
  const add = useAction(async () => {
    await api<RemoteRecord>('POST', '/remotes', { name: name.trim(), url: url.trim() })
    toast(`Remote “${name.trim()}” added`)
    setName('')
    setUrl('')
    onAdded()
  })
  return (
    <FormCard
      title="Add a remote"
      testId="remote-form"
      onSubmit={() => void add.run()}
      busy={add.busy}
      error={add.error}
      submitLabel="Add remote"
      submitTestId="remote-add"
      errorTestId="remote-error"
    >
      <div class="grid-2">
        <TextField
          label="Name"
          value={name}
          onValue={setName}
          testId="remote-name"
          placeholder="nas"
          required
        />
        <div class="with-toggle">
          <TextField
            label="URL"
            type={show ? 'text' : 'password'}
            value={url}
            onValue={setUrl}
            testId="remote-url"
            placeholder="file:///srv/backups"
            autocomplete="off"
            required
            hint={URL_HINT}
          />
          <button
            type="button"
            class="button small"
            aria-pressed={show}
            onClick={() => {
              setShow(!show)
            }}
          >
            {show ? 'Hide' : 'Show'}
          </button>
        </div>
      </div>
    </FormCard>
  )
}

/** `/remotes`. */
export function RemotesPage() {
  const remotes = useRemotes()
  return (
    <>
      <PageHeader title="Remotes" subtitle="Where backups are stored." />
      {remotes.error === undefined ? null : <ErrorBox error={remotes.error} onRetry={remotes.reload} />}
      {remotes.data === undefined ? (
        remotes.error === undefined ? (
          <Loading />
        ) : null
      ) : remotes.data.items.length === 0 ? (
        <Empty>No remote yet: add the first one below.</Empty>
      ) : (
        <Card>
          <ul class="records">
            {remotes.data.items.map((remote) => (
              <RemoteRow key={remote.id} remote={remote} onDeleted={remotes.reload} />
            ))}
          </ul>
        </Card>
      )}
      <AddRemote onAdded={remotes.reload} />
    </>
  )
}
