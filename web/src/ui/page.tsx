// Page furniture: headers, cards, loading and error states, empty lists.
import type { ComponentChildren } from 'preact'
import type { ApiError } from '../api.ts'

/** A page title with its actions on the right (below it on a phone). */
export function PageHeader(props: {
  readonly title: ComponentChildren
  readonly subtitle?: ComponentChildren
  readonly children?: ComponentChildren
}) {
  return (
    <header class="page-head">
      <div class="page-title">
        <h1>{props.title}</h1>
        {props.subtitle === undefined ? null : <p class="muted">{props.subtitle}</p>}
      </div>
      {props.children === undefined ? null : <div class="page-actions">{props.children}</div>}
    </header>
  )
}

/** A titled panel. */
export function Card(props: {
  readonly title?: ComponentChildren
  readonly actions?: ComponentChildren
  readonly children: ComponentChildren
  readonly class?: string
  readonly testId?: string
}) {
  return (
    <section class={`card ${props.class ?? ''}`} data-testid={props.testId}>
      {props.title === undefined ? null : (
        <header class="card-head">
          <h2>{props.title}</h2>
          {props.actions}
        </header>
      )}
      {props.children}
    </section>
  )
}

/** A placeholder while the first load runs. */
export function Loading({ what = 'Loading' }: { readonly what?: string }) {
  return (
    <p class="loading muted" aria-busy="true">
      {what}…
    </p>
  )
}

/** An API error as a red box, with a Retry button when given one. */
export function ErrorBox({ error, onRetry }: { readonly error: ApiError; readonly onRetry?: () => void }) {
  return (
    <div class="error-box" role="alert" data-testid="error-box">
      <strong>{error.status === 0 ? 'Unreachable' : `Error ${error.status}`}</strong>{' '}
      <span>{error.message}</span>
      {onRetry === undefined ? null : (
        <button type="button" class="button small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  )
}

/** An empty list's message, with an optional action. */
export function Empty({ children }: { readonly children: ComponentChildren }) {
  return <div class="empty muted">{children}</div>
}
