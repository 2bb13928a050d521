import type { Json, JsonObject } from './json.ts'

/** Options of a BackupError: serialisable details and the error it wraps. */
export interface BackupErrorOptions {
  readonly details?: JsonObject
  readonly cause?: unknown
}

/**
 * Base of every error the project throws on purpose: `code` is stable (classify by it, never by
 * message text), `details` is JSON, `cause` is the wrapped error, and `toJSON()` is what task logs
 * and the API show.
 */
export class BackupError<C extends string = string> extends Error {
  readonly code: C
  readonly details: JsonObject | undefined

  constructor(code: C, message: string, options: BackupErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details
  }

  override get name(): string {
    return this.constructor.name
  }

  /** The serialised form: name, code, message, details and cause (recursively). */
  toJSON(): JsonObject {
    return serializeError(this)
  }
}

const MAX_CAUSE_DEPTH = 8

/**
 * Turns any thrown value into JSON: name, message, code and cause chain (AggregateError's `errors`
 * too). Stacks are left out on purpose: they leak paths and are noise in reports.
 */
export function serializeError(error: unknown, depth = 0): JsonObject {
  if (!(error instanceof Error)) {
    return { name: 'NonError', message: String(error) }
  }
  const out: Record<string, Json> = { name: error.name, message: error.message }
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' || typeof code === 'number') out.code = code
  if (error instanceof BackupError && error.details !== undefined) out.details = error.details
  const params = (error as { params?: unknown }).params
  if (Array.isArray(params) && params.every((p) => typeof p === 'string')) out.params = params
  if (depth < MAX_CAUSE_DEPTH) {
    if (error.cause !== undefined) out.cause = serializeError(error.cause, depth + 1)
    if (error instanceof AggregateError) {
      out.errors = (error.errors as unknown[]).map((e) => serializeError(e, depth + 1))
    }
  }
  return out
}

/** True when `error` is an abort (an `AbortError` or a signal's `reason` thrown as is). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')
}

/** The code of an error if it has a string one, else undefined. */
export function errorCode(error: unknown): string | undefined {
  const code = error instanceof Error ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}
