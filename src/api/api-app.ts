// The job server's HTTP application (issue 12, docs/api.md): the REST API under /api, /metrics,
// and the console's static files at /. Every route but GET /api/health needs a bearer token.
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { secureHeaders } from 'hono/secure-headers'
import type { Json } from '../shared/json.ts'
import type { ApiDeps } from './api-context.ts'
import { errorBody, handleApiError } from './api-error.ts'
import { createBackupListings } from './backup-listings.ts'
import { serveConsole } from './console-files.ts'
import type { RouteDoc } from './openapi.ts'
import { openApiDocument } from './openapi.ts'
import { registerDashboardRoutes } from './routes/dashboard.ts'
import { registerJobRoutes } from './routes/jobs.ts'
import { registerPoolRoutes } from './routes/pools.ts'
import { registerRemoteRoutes } from './routes/remotes.ts'
import { registerRestoreRoutes } from './routes/restores.ts'
import { routerOf } from './routes/router.ts'
import { registerRunRoutes } from './routes/runs.ts'
import { registerNotificationRoutes } from './routes/notifications.ts'

/** Request bodies above this are refused with 413 before they are read whole (issue 12). */
export const MAX_BODY_BYTES = 1024 * 1024

// How much of a refused body is read before answering; beyond it the connection is just closed.
const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024

async function drain(body: ReadableStream<Uint8Array> | null, limitBytes: number): Promise<void> {
  if (body === null) return
  let read = 0
  try {
    const reader = body.getReader()
    while (read <= limitBytes) {
      const { done, value } = await reader.read()
      if (done) return
      read += value.byteLength
    }
    await reader.cancel()
  } catch {
    // Already read by the limit middleware, or the client went away: nothing more to drop.
  }
}

const BEARER = /^Bearer ([^\s]{1,200})$/

/** Builds the application; `deps` are the server's store, runs and operations. */
export function createApiApp(deps: ApiDeps): Hono {
  const app = new Hono()
  const docs: RouteDoc[] = []
  app.onError((error, c) => handleApiError(error, c, deps.log))
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        styleSrc: ["'self'", "'unsafe-inline'"],
        frameAncestors: ["'none'"],
      },
    }),
  )
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: async (c) => {
        // Read (and drop) a bounded rest of the body first: a client still sending when the answer
        // comes and the socket closes sees a reset instead of its 413.
        await drain(c.req.raw.body, DRAIN_LIMIT_BYTES)
        c.header('connection', 'close')
        return c.json(errorBody('BODY_TOO_LARGE', `body: over ${MAX_BODY_BYTES} bytes`), 413)
      },
    }),
  )
  const route = routerOf(app, docs)
  route(
    {
      method: 'get',
      path: '/api/health',
      tag: 'server',
      summary: 'Liveness (no token)',
      public: true,
      responses: { 200: '{status, version}' },
    },
    (c) => c.json({ status: 'ok', version: deps.version }),
  )
  // Auth for everything else under /api and /metrics; the console's files are public (they hold no data).
  const auth = async (c: Parameters<Parameters<typeof app.use>[1]>[0], next: () => Promise<void>) => {
    if (c.req.path === '/api/health') return next()
    const match = BEARER.exec(c.req.header('authorization') ?? '')
    const token = match?.[1] === undefined ? undefined : deps.store.verifyToken(match[1])
    if (token === undefined) {
      c.header('WWW-Authenticate', 'Bearer realm="xapi-backup"')
      return c.json(
        errorBody('UNAUTHORIZED', match === null ? 'a bearer token is required' : 'unknown or revoked token'),
        401,
      )
    }
    return next()
  }
  app.use('/api/*', auth)
  app.use('/metrics', auth)
  let document: Json | undefined
  route(
    {
      method: 'get',
      path: '/api/openapi.json',
      tag: 'server',
      summary: 'This document',
      responses: { 200: 'OpenAPI 3.1' },
    },
    (c) => c.json((document ??= openApiDocument(docs, deps.version)) as object),
  )
  registerPoolRoutes(route, deps)
  const listings = createBackupListings(deps)
  registerRemoteRoutes(route, deps, listings)
  registerJobRoutes(route, deps)
  registerRunRoutes(route, deps)
  registerRestoreRoutes(route, deps)
  registerDashboardRoutes(route, deps, listings)
  registerNotificationRoutes(route, deps)
  app.all('/api/*', (c) =>
    c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${c.req.path.slice(0, 200)}`), 404),
  )
  serveConsole(app, deps.webRoot)
  return app
}
