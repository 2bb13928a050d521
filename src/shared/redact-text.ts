/** What replaces a secret in logs, errors and task data. */
export const REDACTED = '*****'

// user:password@ in URLs, and secrets passed as query parameters (XAPI's session_id is a bearer token).
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/\s:@]*):([^/\s@]*)@/gi
const QUERY_SECRET = /([?&;](?:session_id|password|token|secret|access_key|secret_key|api_key)=)[^&\s#"']*/gi

/** Removes credentials embedded in free text: URL passwords and secret query parameters. */
export function redactText(text: string): string {
  return text.replace(URL_USERINFO, `$1$2:${REDACTED}@`).replace(QUERY_SECRET, `$1${REDACTED}`)
}
