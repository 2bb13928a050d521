import { REDACTED, redactText } from '../shared/redact-text.ts'

export { REDACTED }

/** Removes `session_id=` values and URL passwords from free text (error messages, URLs). */
export function redactSecrets(text: string): string {
  return redactText(text)
}

/** The URL as text with its user info and `session_id` removed, safe for errors and logs. */
export function redactUrl(url: URL): string {
  const copy = new URL(url.href)
  copy.username = ''
  copy.password = ''
  if (copy.searchParams.has('session_id')) copy.searchParams.set('session_id', REDACTED)
  return copy.href
}
