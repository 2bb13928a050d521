// Errors and warnings of the run description (the seed's "Run description object"): one line each,
// naming the field by its path, what was expected and what was found, never a secret's value.
import { BackupError } from '../shared/errors.ts'
import type { JsonObject } from '../shared/json.ts'

/** Stable codes: syntax (file:line:column), invalid content (a field's path), credentials unavailable. */
export type RunDescriptionErrorCode =
  'RUN_DESCRIPTION_SYNTAX' | 'RUN_DESCRIPTION_INVALID' | 'CREDENTIAL_UNAVAILABLE'

/** A bad run description; `details` holds `{path, expected, got}` (or `{file, line, column}`). */
export class RunDescriptionError extends BackupError<RunDescriptionErrorCode> {}

/** Where a value sits in the run description: object keys and array indexes from the root. */
export type FieldPath = readonly (string | number)[]

/** A problem that does not stop the run (an unknown setting, a setting with no effect where it is). */
export interface RunDescriptionWarning {
  readonly path: string
  readonly message: string
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** The path as the user would write it: `job.settings[''].exportRetention`, `job.vms.id.__or[1]`. */
export function formatPath(path: FieldPath): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else if (IDENTIFIER.test(part)) out += out === '' ? part : `.${part}`
    else out += `['${part.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`
  }
  return out === '' ? '(the document)' : out
}

const MAX_SHOWN = 60

/**
 * A short description of a value for an error message: JSON for short primitives, the kind
 * otherwise; `hidden` values (credentials, URLs that may carry one) show only their kind.
 */
export function describeValue(value: unknown, hidden = false): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'object':
      return 'an object'
    case 'string': {
      if (hidden) return 'a string (value hidden)'
      const json = JSON.stringify(value)
      return json.length <= MAX_SHOWN
        ? json
        : `${json.slice(0, MAX_SHOWN - 4)}…" (${value.length} characters)`
    }
    case 'number':
      return hidden ? 'a number (value hidden)' : String(value)
    case 'boolean':
      return hidden ? 'a boolean (value hidden)' : String(value)
    default:
      return `a ${typeof value}`
  }
}

/** The RUN_DESCRIPTION_INVALID error for `path`: `<path>: expected <expected>, got <got>`. */
export function invalidField(
  path: FieldPath,
  expected: string,
  got: unknown,
  options: { readonly hidden?: boolean } = {},
): RunDescriptionError {
  const where = formatPath(path)
  const found = describeValue(got, options.hidden === true)
  return new RunDescriptionError('RUN_DESCRIPTION_INVALID', `${where}: expected ${expected}, got ${found}`, {
    details: { path: where, expected, got: found },
  })
}

/** A RUN_DESCRIPTION_INVALID error whose `got` is a sentence rather than a value (a relation between fields). */
export function invalidRelation(path: FieldPath, expected: string, got: string): RunDescriptionError {
  const where = formatPath(path)
  return new RunDescriptionError('RUN_DESCRIPTION_INVALID', `${where}: expected ${expected}, got ${got}`, {
    details: { path: where, expected, got },
  })
}

/** The same error with the file it came from in front of the message (and in `details.file`). */
export function inFile(error: RunDescriptionError, file: string | undefined): RunDescriptionError {
  if (file === undefined) return error
  const details: JsonObject = { file, ...(error.details ?? {}) }
  return new RunDescriptionError(error.code, `${file}: ${error.message}`, { details })
}
