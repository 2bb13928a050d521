// Modal dialogs on the native <dialog> element: focus trapping, Escape and the backdrop for free.
import type { ComponentChildren } from 'preact'
import { useEffect, useRef } from 'preact/hooks'

/** Props of Dialog. */
export interface DialogProps {
  readonly title: string
  readonly onClose: () => void
  readonly children: ComponentChildren
  readonly testId?: string
}

/** A modal shown while mounted; Escape or the close button call onClose. */
export function Dialog({ title, onClose, children, testId }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const dialog = ref.current
    if (dialog !== null && !dialog.open) dialog.showModal()
    return () => {
      dialog?.close()
    }
  }, [])
  return (
    <dialog
      ref={ref}
      class="dialog"
      data-testid={testId}
      aria-label={title}
      onCancel={(event) => {
        event.preventDefault()
        onClose()
      }}
    >
      <header class="dialog-head">
        <h2>{title}</h2>
        <button type="button" class="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </header>
      {children}
    </dialog>
  )
}

/** Props of ConfirmDialog. */
export interface ConfirmProps {
  readonly title: string
  readonly message: ComponentChildren
  readonly confirmLabel: string
  readonly busy?: boolean
  readonly error?: string | undefined
  readonly onConfirm: () => void
  readonly onClose: () => void
}

/** "Are you sure?" with a danger button (`data-testid="confirm-submit"`). */
export function ConfirmDialog(props: ConfirmProps) {
  return (
    <Dialog title={props.title} onClose={props.onClose} testId="confirm-dialog">
      <div class="dialog-body">
        <p>{props.message}</p>
        {props.error === undefined ? null : (
          <p class="form-error" role="alert">
            {props.error}
          </p>
        )}
      </div>
      <footer class="dialog-foot">
        <button type="button" class="button" onClick={props.onClose} data-testid="confirm-cancel">
          Cancel
        </button>
        <button
          type="button"
          class="button danger"
          disabled={props.busy === true}
          onClick={props.onConfirm}
          data-testid="confirm-submit"
        >
          {props.confirmLabel}
        </button>
      </footer>
    </Dialog>
  )
}
