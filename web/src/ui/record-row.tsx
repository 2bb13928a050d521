// One configured thing (a pool, a remote): its name and details, Test and Delete (confirmed).
import type { ComponentChildren } from 'preact'
import { useState } from 'preact/hooks'
import { useAction } from '../hooks.ts'
import { ConfirmDialog } from './dialog.tsx'

/** A test's outcome as lines to show. */
export interface TestOutcome {
  readonly ok: boolean
  readonly lines: readonly string[]
}

/** Props of RecordRow; `kind` names the test ids (`pool-row`, `pool-test`, `pool-delete`, …). */
export interface RecordRowProps {
  readonly kind: 'pool' | 'remote'
  readonly id: string
  readonly title: ComponentChildren
  readonly detail: ComponentChildren
  readonly test: () => Promise<TestOutcome>
  readonly deleteTitle: string
  readonly deleteMessage: string
  readonly onDelete: () => Promise<void>
}

function TestResult({ kind, result }: { readonly kind: string; readonly result: TestOutcome }) {
  return (
    <div
      class={result.ok ? 'test-result ok' : 'test-result bad'}
      data-testid={`${kind}-test-result`}
      data-ok={String(result.ok)}
    >
      <strong>{result.ok ? 'Test passed' : 'Test failed'}</strong>
      {result.lines.map((line, i) => (
        <div key={i}>{line}</div>
      ))}
    </div>
  )
}

function DeleteButton(props: Pick<RecordRowProps, 'kind' | 'deleteTitle' | 'deleteMessage' | 'onDelete'>) {
  const [confirm, setConfirm] = useState(false)
  const remove = useAction(async () => {
    await props.onDelete()
    setConfirm(false)
  })
  return (
    <>
      <button
        type="button"
        class="button small danger-outline"
        data-testid={`${props.kind}-delete`}
        onClick={() => {
          remove.setError(undefined)
          setConfirm(true)
        }}
      >
        Delete
      </button>
      {confirm ? (
        <ConfirmDialog
          title={props.deleteTitle}
          message={props.deleteMessage}
          confirmLabel="Delete"
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

/** The row with its test result under it and the delete confirmation. */
export function RecordRow(props: RecordRowProps) {
  const { kind } = props
  const [result, setResult] = useState<TestOutcome | undefined>(undefined)
  const test = useAction(async () => {
    setResult(undefined)
    setResult(
      await props
        .test()
        .catch((e: unknown) => ({ ok: false, lines: [e instanceof Error ? e.message : String(e)] })),
    )
  })
  return (
    <li class="record" data-testid={`${kind}-row`} data-id={props.id}>
      <div class="record-main">
        <strong>{props.title}</strong>
        {props.detail}
      </div>
      <div class="row-actions">
        <button
          type="button"
          class="button small"
          disabled={test.busy}
          data-testid={`${kind}-test`}
          onClick={() => void test.run()}
        >
          {test.busy ? 'Testing…' : 'Test'}
        </button>
        <DeleteButton {...props} />
      </div>
      {result === undefined ? null : <TestResult kind={kind} result={result} />}
    </li>
  )
}
