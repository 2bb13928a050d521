// Form fields with their label, hint and invalid state, so forms read as a list of fields.
import type { ComponentChildren } from 'preact'

/** Attributes marking a control invalid (styled, announced, findable by `[data-invalid]`). */
export function invalidAttrs(invalid: boolean) {
  return invalid ? { 'aria-invalid': true as const, class: 'invalid', 'data-invalid': 'true' } : {}
}

/** Props of TextField. */
export interface TextFieldProps {
  readonly label: ComponentChildren
  readonly value: string
  readonly onValue: (value: string) => void
  readonly testId: string
  readonly type?: 'text' | 'password' | 'url' | 'number' | 'search'
  readonly placeholder?: string
  readonly hint?: ComponentChildren
  readonly required?: boolean
  readonly invalid?: boolean
  readonly name?: string
  readonly autocomplete?: string
  readonly inputMode?: 'text' | 'numeric'
  readonly min?: string
}

/** A labelled single-line input; `invalid` marks it (aria-invalid, data-invalid) for errors. */
export function TextField(props: TextFieldProps) {
  const invalid = props.invalid === true
  return (
    <label class="field">
      <span>{props.label}</span>
      <input
        // Preact types each input type with its own allowed ARIA roles; none is set here, so the
        // type can be any of ours, but tsc cannot see that through the union (the lint rule can).
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
        type={(props.type ?? 'text') as 'text'}
        name={props.name}
        value={props.value}
        placeholder={props.placeholder}
        required={props.required}
        autocomplete={props.autocomplete}
        inputMode={props.inputMode}
        min={props.min}
        spellcheck={false}
        class={invalid ? 'invalid' : undefined}
        aria-invalid={invalid ? true : undefined}
        data-invalid={invalid ? 'true' : undefined}
        data-testid={props.testId}
        onInput={(e) => {
          props.onValue(e.currentTarget.value)
        }}
      />
      {props.hint === undefined ? null : <small class="muted">{props.hint}</small>}
    </label>
  )
}

/** A labelled checkbox. */
export function CheckField(props: {
  readonly label: ComponentChildren
  readonly checked: boolean
  readonly onChecked: (checked: boolean) => void
  readonly testId: string
}) {
  return (
    <label class="check">
      <input
        type="checkbox"
        checked={props.checked}
        data-testid={props.testId}
        onChange={(e) => {
          props.onChecked(e.currentTarget.checked)
        }}
      />
      <span>{props.label}</span>
    </label>
  )
}

/** A form's one-line error (the server's reason), or nothing. */
export function FormError({
  error,
  testId,
}: {
  readonly error: string | undefined
  readonly testId: string
}) {
  if (error === undefined) return null
  return (
    <p class="form-error" role="alert" data-testid={testId}>
      {error}
    </p>
  )
}

/** Props of FormCard. */
export interface FormCardProps {
  readonly title: string
  readonly testId: string
  readonly onSubmit: () => void
  readonly busy: boolean
  readonly error: string | undefined
  readonly submitLabel: string
  /** Test ids: the submit button's and the error's. */
  readonly submitTestId: string
  readonly errorTestId: string
  readonly children: ComponentChildren
}

/** A card holding a form: fields, the server's one-line error, and the submit button. */
export function FormCard(props: FormCardProps) {
  return (
    <section class="card">
      <header class="card-head">
        <h2>{props.title}</h2>
      </header>
      <form
        class="stack"
        data-testid={props.testId}
        onSubmit={(e) => {
          e.preventDefault()
          props.onSubmit()
        }}
      >
        {props.children}
        <FormError error={props.error} testId={props.errorTestId} />
        <div class="form-actions">
          <button type="submit" class="button primary" disabled={props.busy} data-testid={props.submitTestId}>
            {props.submitLabel}
          </button>
        </div>
      </form>
    </section>
  )
}
