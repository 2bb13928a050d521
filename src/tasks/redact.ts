import type { Json, JsonObject } from '../shared/json.ts'

import { REDACTED, redactText } from '../shared/redact-text.ts'

export { REDACTED, redactText }

// Keys whose values are secrets wherever they appear (XAPI session refs are bearer tokens).
const SECRET_KEY =
  /^(password|passwd|pass|pwd|secret|token|credentials|authorization|cookie|privatekey|private_key|secretkey|secret_key|secretaccesskey|accesskey|access_key|apikey|api_key|sessionid|session_id|encryptionkey|encryption_key)$/i
const SECRET_SUFFIX = /(password|secret|token|credentials|privatekey|secretkey|sessionid)$/i

/** True when a property named `key` holds a secret (password, token, session id, keys…). */
export function isSecretKey(key: string): boolean {
  const flat = key.replace(/[-\s]/g, '')
  return SECRET_KEY.test(flat) || SECRET_SUFFIX.test(flat)
}

/**
 * Returns a copy of `value` in which every secret-named property is replaced by REDACTED and
 * every string is passed through redactText; the input is not modified.
 */
export function redact(value: Json): Json {
  if (typeof value === 'string') return redactText(value)
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return (value as readonly Json[]).map(redact)
  const out: Record<string, Json> = {}
  for (const [key, item] of Object.entries(value as JsonObject)) {
    out[key] = isSecretKey(key) && item !== null && item !== '' ? REDACTED : redact(item)
  }
  return out
}

/** redact() for objects, keeping the object type. */
export function redactObject(value: JsonObject): JsonObject {
  return redact(value) as JsonObject
}
