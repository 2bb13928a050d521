// Errors of the REST API (docs/api.md "Conventions"): one JSON shape for every refusal, the status
// chosen from the error's kind, and a 500 that says nothing of the server's insides.
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { RunDescriptionError } from '../engine/run-description-error.ts'
import { BackupError, errorCode } from '../shared/errors.ts'
import { redactText } from '../shared/redact-text.ts'

/** A refusal with its HTTP status, stable code, one-line message and the field at fault. */
export class ApiError extends BackupError {
  readonly status: ContentfulStatusCode
  readonly path: string | undefined

  constructor(status: ContentfulStatusCode, code: string, message: string, path?: string) {
    super(code, message)
    this.status = status
    this.path = path
  }
}

/** 404 for an unknown id of `what` (pool, remote, job…). */
export const notFound = (what: string, id: string): ApiError =>
  new ApiError(404, 'NOT_FOUND', `${what} ${JSON.stringify(id.slice(0, 100))} not found`)

/** The JSON body of an error answer. */
export function errorBody(code: string, message: string, path?: string): { error: Record<string, string> } {
  return { error: { code, message: redactText(message), ...(path === undefined ? {} : { path }) } }
}

/**
 * Turns any error of a route into its answer: ApiError as given, an invalid run description as 400
 * with its field path, hono's own HTTP errors with their status, anything else as a 500 whose
 * details go to `log` only.
 */
export function handleApiError(error: unknown, c: Context, log: (message: string) => void): Response {
  if (error instanceof ApiError) return c.json(errorBody(error.code, error.message, error.path), error.status)
  if (error instanceof RunDescriptionError && error.code === 'RUN_DESCRIPTION_INVALID') {
    const path = error.details?.['path']
    return c.json(errorBody(error.code, error.message, typeof path === 'string' ? path : undefined), 400)
  }
  if (errorCode(error) === 'RUNS_STOPPED')
    return c.json(errorBody('RUNS_STOPPED', error instanceof Error ? error.message : 'stopping'), 503)
  if (error instanceof HTTPException) {
    const status = error.status
    return c.json(
      errorBody(status === 413 ? 'BODY_TOO_LARGE' : 'HTTP_ERROR', error.message || `HTTP ${status}`),
      status,
    )
  }
  log(
    `${c.req.method} ${c.req.path}: ${redactText(error instanceof Error ? (error.stack ?? error.message) : String(error))}`,
  )
  return c.json(errorBody('INTERNAL_ERROR', 'internal error (see the server log)'), 500)
}
