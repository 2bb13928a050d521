// Credentials in a run description (ADR 0008): a literal, `{env: 'NAME'}` or `{file: 'path'}`.
// Values live in Credential objects that print `***` everywhere; errors name the field and the
// variable or file, never the value.
import { inspect } from 'node:util'
import { isPlainObject } from './fields.ts'
import type { FieldPath } from './run-description-error.ts'
import { RunDescriptionError, formatPath, invalidField, invalidRelation } from './run-description-error.ts'

const HIDDEN = '***'

/** A secret value: `String()`, `JSON.stringify` and `util.inspect` give `***`; `reveal()` gives the value. */
export class Credential {
  readonly #value: string

  constructor(value: string) {
    this.#value = value
  }

  /** The value, for the one call that needs it (a login, a remote URL); never for a log. */
  reveal(): string {
    return this.#value
  }

  toString(): string {
    return HIDDEN
  }

  toJSON(): string {
    return HIDDEN
  }

  [inspect.custom](): string {
    return `Credential(${HIDDEN})`
  }
}

/** Where a credential comes from; a literal is wrapped at once so the parsed description never shows it. */
export type CredentialSource =
  | { readonly kind: 'literal'; readonly value: Credential }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'file'; readonly path: string }

/** What resolving needs: the environment and a way to read a (small) file, both injected for tests. */
export interface CredentialReader {
  readonly env: Readonly<Record<string, string | undefined>>
  /** The file's text; rejects with an error carrying `code` (ENOENT, EACCES, TOO_LARGE…) on failure. */
  readFile(path: string): Promise<string>
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const EXPECTED = "a string, {env: 'VARIABLE'} or {file: 'path'}"

/** Checks a credential field (`literal`, `{env}` or `{file}`) without ever echoing a literal's value. */
export function checkCredentialSource(value: unknown, path: FieldPath): CredentialSource {
  if (typeof value === 'string') {
    if (value === '') throw invalidRelation(path, EXPECTED, 'an empty string')
    return { kind: 'literal', value: new Credential(value) }
  }
  if (!isPlainObject(value)) throw invalidField(path, EXPECTED, value, { hidden: true })
  const keys = Object.keys(value)
  const [key] = keys
  if (keys.length !== 1 || (key !== 'env' && key !== 'file'))
    throw invalidRelation(path, EXPECTED, `an object with the fields ${keys.join(', ') || '(none)'}`)
  const operand = value[key]
  if (key === 'env') {
    if (typeof operand !== 'string' || !ENV_NAME.test(operand))
      throw invalidField([...path, 'env'], 'an environment variable name (letters, digits, _)', operand)
    return { kind: 'env', name: operand }
  }
  if (typeof operand !== 'string' || operand === '')
    throw invalidField([...path, 'file'], 'a file path', operand)
  return { kind: 'file', path: operand }
}

const unavailable = (
  path: FieldPath,
  problem: string,
  expected: string,
  got: string,
): RunDescriptionError => {
  const where = formatPath(path)
  return new RunDescriptionError('CREDENTIAL_UNAVAILABLE', `${where}: ${problem}`, {
    details: { path: where, expected, got },
  })
}

// Secret files conventionally end with one newline (`echo secret > file`, Docker/systemd secrets).
const withoutFinalNewline = (text: string): string => text.replace(/\r?\n$/, '')

/**
 * The credential's value: a literal as is, an environment variable's value, or a file's text
 * without its final newline. Unset/empty variables, missing/unreadable/empty files throw
 * CREDENTIAL_UNAVAILABLE naming the field and the variable or file.
 */
export async function resolveCredential(
  source: CredentialSource,
  path: FieldPath,
  reader: CredentialReader,
): Promise<Credential> {
  switch (source.kind) {
    case 'literal':
      return source.value
    case 'env': {
      const value = reader.env[source.name]
      const variable = `environment variable ${source.name}`
      if (value === undefined) throw unavailable(path, `${variable} is not set`, `${variable} set`, 'unset')
      if (value === '') throw unavailable(path, `${variable} is empty`, `${variable} non-empty`, 'empty')
      return new Credential(value)
    }
    case 'file': {
      const file = JSON.stringify(source.path)
      let text: string
      try {
        text = await reader.readFile(source.path)
      } catch (error) {
        const code = (error as { code?: unknown }).code
        const got =
          code === 'ENOENT'
            ? 'does not exist'
            : code === 'TOO_LARGE'
              ? 'is too large for a credential'
              : `cannot be read (${typeof code === 'string' ? code : 'error'})`
        throw unavailable(path, `credential file ${file} ${got}`, `a readable file ${file}`, got)
      }
      const value = withoutFinalNewline(text)
      if (value === '')
        throw unavailable(path, `credential file ${file} is empty`, `a non-empty file ${file}`, 'empty')
      return new Credential(value)
    }
  }
}
