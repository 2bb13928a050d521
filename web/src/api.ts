// The console's only way to the API: JSON over fetch with the bearer token, errors as ApiError
// (the server's `{error: {code, message, path}}`), and a 401 sends the user back to login.
import { clearToken, getToken } from './auth.ts'

/** A failed API call: HTTP status (0 when the server was unreachable) and the server's error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path: string | undefined,
    /** The whole answer body (a 409 on run carries the skipped `run` beside `error`). */
    readonly body: unknown,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** The message shown on the login page after the server refused the token. */
export const REFUSED_TOKEN = 'The server refused the token (401). Paste a valid API token.'

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

function errorOf(status: number, body: unknown, statusText: string): ApiError {
  const error = isObject(body) && isObject(body.error) ? body.error : {}
  const code = typeof error.code === 'string' ? error.code : `HTTP_${status}`
  const message =
    typeof error.message === 'string' && error.message !== ''
      ? error.message
      : `HTTP ${status}${statusText === '' ? '' : ` ${statusText}`}`
  const path = typeof error.path === 'string' ? error.path : undefined
  return new ApiError(status, code, message, path, body)
}

/** Headers every request carries: the bearer token when logged in. */
export function authHeaders(): Record<string, string> {
  const token = getToken()
  return token === undefined ? {} : { Authorization: `Bearer ${token}` }
}

/**
 * Calls the API: `method` on `/api` + `path` with `body` as JSON; resolves to the parsed answer
 * (undefined for 204), rejects with ApiError. A 401 also logs the user out (REFUSED_TOKEN).
 */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let response: Response
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers: {
        ...authHeaders(),
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(signal === undefined ? {} : { signal }),
      cache: 'no-store',
    })
  } catch (error) {
    if (signal?.aborted === true) throw error
    throw new ApiError(0, 'UNREACHABLE', 'The server could not be reached.', undefined, undefined)
  }
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = text
  }
  if (response.status === 401) {
    clearToken(REFUSED_TOKEN)
    throw errorOf(401, parsed, response.statusText)
  }
  if (!response.ok) throw errorOf(response.status, parsed, response.statusText)
  return parsed as T
}

/** A query string from the defined, non-empty values of `params` (`?a=1&b=x`, or ''). */
export function query(params: Readonly<Record<string, string | number | undefined>>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== '') search.set(key, String(value))
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}
