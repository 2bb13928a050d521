// Reading a request's input: JSON only, then its schema; the first problem is a 400 naming the field.
import type { Context } from 'hono'
import type { z } from 'zod'
import { ApiError } from './api-error.ts'

/** `a.b[0]` from a zod issue path. */
function pathText(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path)
    out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`
  return out
}

/** Checks `value` against `schema`; a ZodError becomes a 400 `<path>: <reason>` (INVALID_INPUT). */
export function checkInput<S extends z.ZodType>(schema: S, value: unknown, where = 'body'): z.output<S> {
  const parsed = schema.safeParse(value)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  if (issue?.code === 'unrecognized_keys') {
    // Named like the CLI names a field: its own path, then what is wrong with it.
    const path = pathText([...issue.path, issue.keys[0] ?? ''])
    throw new ApiError(
      400,
      'INVALID_INPUT',
      `${path}: unknown field, expected one of the documented fields`,
      path,
    )
  }
  const path = issue === undefined ? where : pathText(issue.path) || where
  throw new ApiError(400, 'INVALID_INPUT', `${path}: ${issue?.message ?? 'invalid'}`, path)
}

/** The request's JSON body checked by `schema` (415 when not JSON, 400 when not parseable). */
export async function readBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const type = c.req.header('content-type') ?? ''
  if (!/^application\/json\b/i.test(type))
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `expected content-type application/json, got ${JSON.stringify(type.slice(0, 100))}`,
    )
  let value: unknown
  try {
    value = await c.req.json()
  } catch {
    throw new ApiError(400, 'INVALID_JSON', 'body: not valid JSON')
  }
  return checkInput(schema, value)
}
