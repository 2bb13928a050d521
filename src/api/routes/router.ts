// Registers a route on the hono app and its entry in the OpenAPI document in one call, so that a
// route without documentation cannot exist.
import type { Context, Hono } from 'hono'
import type { RouteDoc } from '../openapi.ts'

/** A route's handler. */
export type Handler = (c: Context) => Response | Promise<Response>

/** The function route modules use: `route(doc, handler)`. */
export type DefineRoute = (doc: RouteDoc, handler: Handler) => void

/** A DefineRoute that adds to `app` and `docs`. */
export function routerOf(app: Hono, docs: RouteDoc[]): DefineRoute {
  return (doc, handler) => {
    docs.push(doc)
    app.on(doc.method.toUpperCase(), doc.path, handler)
  }
}

/** The path parameter `name` (always present on a matched route). */
export const param = (c: Context, name: string): string => c.req.param(name) ?? ''
