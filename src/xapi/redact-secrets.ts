/** What replaces a secret in messages. */
export const REDACTED = '*****'

// `session_id` is a bearer token (xapi.md §1.5, §3) and URLs may carry `user:password@`.
const QUERY_SECRET = /([?&;]session_id=)[^&\s#"']*/gi
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi

/** Removes `session_id=` values and URL user info from free text (error messages, URLs). */
export function redactSecrets(text: string): string {
  return text.replace(QUERY_SECRET, `$1${REDACTED}`).replace(URL_USERINFO, '$1')
}

/** The URL as text with its user info and `session_id` removed, safe for errors and logs. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href)
  copy.username = ''
  copy.password = ''
  if (copy.searchParams.has('session_id')) copy.searchParams.set('session_id', REDACTED)
  return copy.href
}
