// The OpenAPI 3.1 document of the REST API (GET /api/openapi.json), generated from the routes'
// own schemas so that it cannot drift from what the server checks.
import { z } from 'zod'
import type { Json } from '../shared/json.ts'

/** One documented route: hono's `:id` paths are written `{id}` in the document. */
export interface RouteDoc {
  readonly method: 'get' | 'post' | 'put' | 'delete'
  readonly path: string
  readonly summary: string
  readonly tag: string
  readonly body?: z.ZodType
  readonly query?: z.ZodType
  /** Status → description of the answers this route gives besides the common errors. */
  readonly responses: Readonly<Record<number, string>>
  /** No token needed (only GET /api/health). */
  readonly public?: boolean
  readonly produces?: string
}

const ERROR_RESPONSES: Record<number, string> = {
  400: 'invalid input: `{error: {code, message, path}}`',
  401: 'missing, unknown or revoked token',
  404: 'unknown id',
  413: 'body over 1 MiB',
}

/**
 * The JSON Schema of `schema` for the document: zod puts recursive parts (z.json()) in a local
 * `$defs` whose `#/$defs/x` refs would resolve against the document root, so they move to
 * `components.schemas` (one entry per distinct definition) and the refs follow. The per-schema
 * `$schema` is dropped: OpenAPI 3.1 sets the dialect for the whole document.
 */
function schemaOf(schema: z.ZodType, components: Record<string, Json>): Json {
  const generated = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as Record<string, Json>
  const { $defs, $schema: _dialect, ...root } = generated
  const renamed = new Map<string, string>()
  for (const [name, definition] of Object.entries(($defs ?? {}) as Record<string, Json>)) {
    const text = JSON.stringify(definition)
    const existing = Object.entries(components).find(([, d]) => JSON.stringify(d) === text)?.[0]
    const target = existing ?? `Schema${Object.keys(components).length + 1}`
    components[target] = definition
    renamed.set(`#/$defs/${name}`, `#/components/schemas/${target}`)
  }
  const rewrite = (value: Json): Json => {
    if (Array.isArray(value)) return value.map(rewrite)
    if (value === null || typeof value !== 'object') return value
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' ? (renamed.get(v) ?? v) : rewrite(v),
      ]),
    )
  }
  for (const [name, definition] of Object.entries(components)) components[name] = rewrite(definition)
  return rewrite(root)
}

/** The document for `routes`. */
export function openApiDocument(routes: readonly RouteDoc[], version: string): Json {
  const schemas: Record<string, Json> = {}
  const paths: Record<string, Record<string, Json>> = {}
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z]+)/g, '{$1}')
    const parameters: Json[] = [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => ({
      name: m[1] ?? '',
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }))
    if (route.query !== undefined) {
      const properties =
        (schemaOf(route.query, schemas) as { properties?: Record<string, Json> }).properties ?? {}
      for (const [name, schema] of Object.entries(properties))
        parameters.push({ name, in: 'query', required: false, schema })
    }
    const responses: Record<string, Json> = {}
    for (const [status, description] of Object.entries({
      ...route.responses,
      ...(route.public === true ? {} : ERROR_RESPONSES),
    }))
      responses[status] = { description }
    paths[path] ??= {}
    paths[path][route.method] = {
      summary: route.summary,
      tags: [route.tag],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: schemaOf(route.body, schemas) } },
            },
          }),
      responses,
      ...(route.public === true ? { security: [] } : {}),
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'xapi-backup job server', version },
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths,
  }
}
