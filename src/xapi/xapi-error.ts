import { BackupError } from '../shared/errors.ts'
import { REDACTED, redactSecrets } from './redact-secrets.ts'

/**
 * An error reported by XAPI itself (xapi.md §2.7): `code` is the XAPI error code (`HANDLE_INVALID`,
 * `VM_BAD_POWER_STATE`…), `params` its parameters and `method` the call that failed.
 */
export class XapiError extends BackupError {
  readonly params: readonly string[]
  readonly method: string

  constructor(code: string, params: readonly string[], method: string) {
    // SESSION_INVALID carries the session ref, a bearer token (xapi.md §1.5): never keep it.
    const safeParams = code === 'SESSION_INVALID' ? params.map(() => REDACTED) : params.map(redactSecrets)
    const shown = safeParams.length === 0 ? '' : ` [${safeParams.map((p) => JSON.stringify(p)).join(', ')}]`
    super(code, `${method}: ${code}${shown}`, { details: { method, params: safeParams } })
    this.params = safeParams
    this.method = method
  }
}

/** Why a request got no XAPI answer. */
export type XapiTransportFailure = 'connect' | 'tls' | 'connection-lost' | 'timeout'

/**
 * A call that got no XAPI answer (refused or dropped connection, TLS failure, timeout).
 * `requestMayHaveReachedServer` is false only when the request certainly was not delivered;
 * `retryable` says whether sending the same call again is safe (xapi.md §1.8 item 4).
 */
export class XapiTransportError extends BackupError<'XAPI_TRANSPORT_ERROR'> {
  readonly method: string
  readonly failure: XapiTransportFailure
  readonly requestMayHaveReachedServer: boolean
  readonly retryable: boolean

  constructor(
    method: string,
    failure: XapiTransportFailure,
    requestMayHaveReachedServer: boolean,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? redactSecrets(cause.message) : String(cause)
    super('XAPI_TRANSPORT_ERROR', `${method}: ${failure} (${reason})`, {
      details: { method, failure, requestMayHaveReachedServer },
      cause,
    })
    this.method = method
    this.failure = failure
    this.requestMayHaveReachedServer = requestMayHaveReachedServer
    // A certificate problem does not go away by retrying; anything undelivered or read-only may be resent.
    this.retryable = failure !== 'tls' && (!requestMayHaveReachedServer || isReadOnlyMethod(method))
  }
}

/** A non-2xx answer from an HTTP handler (`/export`, `/import`…) that no XAPI task explains. */
export class XapiHttpError extends BackupError<'XAPI_HTTP_ERROR'> {
  readonly status: number

  /** `target` is `METHOD path` with credentials already removed. */
  constructor(target: string, status: number, bodyExcerpt: string) {
    super(
      'XAPI_HTTP_ERROR',
      `${redactSecrets(target)}: HTTP ${status} ${redactSecrets(bodyExcerpt)}`.trim(),
      {
        details: { target: redactSecrets(target), status },
      },
    )
    this.status = status
  }
}

/** An answer that does not follow the XAPI wire protocol (xapi.md §1.2–1.3); names what was expected and got. */
export class XapiProtocolError extends BackupError<'XAPI_PROTOCOL_ERROR'> {
  constructor(what: string, expected: string, got: string) {
    super('XAPI_PROTOCOL_ERROR', `${what}: expected ${expected}, got ${redactSecrets(got.slice(0, 200))}`)
  }
}

// Calls whose repetition changes nothing on the server (xapi.md §1.8 item 4, plus login/event reads).
const READ_ONLY_METHOD = /^(?:[^.]+\.get_[^.]*|system\.listMethods|event\.from|session\.login_with_password)$/

/** True for calls that may be sent again after a lost answer: getters, `event.from`, login. */
export function isReadOnlyMethod(method: string): boolean {
  return READ_ONLY_METHOD.test(method)
}

// XAPI errors that reject a call before it does anything, so trying later is safe (xapi.md §1.6).
const RETRYABLE_CODES = new Set(['TOO_MANY_PENDING_TASKS'])

/**
 * True when trying the same call again may succeed and is safe: a transport error marked retryable,
 * or an XAPI error that rejects the call before it does anything (`TOO_MANY_PENDING_TASKS`).
 */
export function isRetryableXapiError(error: unknown): boolean {
  if (error instanceof XapiTransportError) return error.retryable
  return error instanceof XapiError && RETRYABLE_CODES.has(error.code)
}

/** True when `error` is the XAPI error `code` (e.g. `isXapiErrorCode(e, 'HANDLE_INVALID')`). */
export function isXapiErrorCode(error: unknown, code: string): error is XapiError {
  return error instanceof XapiError && error.code === code
}
