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
 * Values nested deeper than this are replaced by NESTED_TOO_DEEP: task data is a few levels deep,
 * and a log written by another tool may nest 20,000 levels, which every recursive walk after this
 * one (JSON.stringify, the renderers) would overflow the stack on.
 */
export const MAX_REDACT_DEPTH = 64

/** What replaces a value nested deeper than MAX_REDACT_DEPTH. */
export const NESTED_TOO_DEEP = `[nested deeper than ${MAX_REDACT_DEPTH} levels]`

/**
 * Returns a copy of `value` in which every secret-named property is replaced by REDACTED, every
 * string is passed through redactText, and every container nested deeper than MAX_REDACT_DEPTH is
 * replaced by NESTED_TOO_DEEP; the input is not modified. Applied on write and again on read.
 */
export function redact(value: Json): Json {
  return redactAt(value, 0)
}

function redactAt(value: Json, depth: number): Json {
  if (typeof value === 'string') return redactText(value)
  if (value === null || typeof value !== 'object') return value
  if (depth >= MAX_REDACT_DEPTH) return NESTED_TOO_DEEP
  if (Array.isArray(value)) return (value as readonly Json[]).map((item) => redactAt(item, depth + 1))
  const out: Record<string, Json> = {}
  for (const [key, item] of Object.entries(value as JsonObject)) {
    out[key] = isSecretKey(key) && item !== null && item !== '' ? REDACTED : redactAt(item, depth + 1)
  }
  return out
}

/** redact() for objects, keeping the object type. */
export function redactObject(value: JsonObject): JsonObject {
  return redact(value) as JsonObject
}
