// The web console's files (built by vite into dist/web): static assets by path, index.html for
// every other non-API path (client-side routes). Paths go through one confinement check.
import { lstatSync, readFileSync } from 'node:fs'
import { extname, join, resolve, sep } from 'node:path'
import type { Hono } from 'hono'
import { isWithin } from '../shared/confine.ts'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>xapi-backup</title>
<p>The web console is not built: run <code>npm run build:web</code> (the API under /api works without it).</p>`

/** The file under `root` for URL path `path`, or undefined (outside, missing, not a regular file). */
function fileUnder(root: string, path: string): string | undefined {
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch {
    return undefined
  }
  if (decoded.includes('\0')) return undefined
  const file = resolve(root, `.${decoded}`)
  if (!isWithin(root, file)) return undefined
  try {
    // lstat: a symlink in the built folder is not followed out of it.
    return lstatSync(file).isFile() ? file : undefined
  } catch {
    return undefined
  }
}

/** Adds the console's routes to `app` (after the API's); without `webRoot`, a page saying how to build it. */
export function serveConsole(app: Hono, webRoot: string | undefined): void {
  const root = webRoot === undefined ? undefined : resolve(webRoot)
  app.get('*', (c) => {
    const index = root === undefined ? undefined : fileUnder(root, '/index.html')
    if (root === undefined || index === undefined) return c.html(NOT_BUILT, 200)
    const file = fileUnder(root, c.req.path) ?? index
    const type = TYPES[extname(file)] ?? 'application/octet-stream'
    // Hashed asset names never change content: cache them; index.html must stay fresh.
    const cache = file.startsWith(join(root, 'assets') + sep)
      ? 'public, max-age=31536000, immutable'
      : 'no-cache'
    return c.body(readFileSync(file), 200, { 'content-type': type, 'cache-control': cache })
  })
}
