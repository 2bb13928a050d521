// Job server benchmarks (issue 12): API latency and the console's first load. The server is
// startServer as `xapi-backup serve` composes it, in the bench process; the reference of each API
// figure is a bare node:http server in the same process answering the same JSON bytes (captured
// from the API in setup) to the same requests, made by the same client code (fetch, keep-alive,
// one request at a time). Client and both servers share this process's event loop alike.
//
// server.runs: BENCH_SERVER_RUNS (default 10,000) finished runs in the store.
//   page  GET /api/runs?limit=500&offset=0 (500: the API's largest page), PAGE_REQUESTS times;
//   all   the whole history, page after page (20 GETs of 500 for 10,000), ALL_LISTINGS times.
// server.backups: a local remote of BENCH_SERVER_BACKUP_VMS (20) VMs × BENCH_SERVER_BACKUPS_PER_VM
// (100) delta backups (metadata + its two VHDs as 1-byte files), added with POST /api/remotes.
//   cold  GET /api/remotes/{id}/backups after every VM's cache.json.gz was deleted (untimed): every
//         metadata file read and validated, the caches rewritten. One GET per run; its reference is
//         the bare server's p50 for the same bytes. The files are in the page cache (not a cold disk).
//   warm  the same GET with the caches up to date but none in the server's memory (an untimed
//         PUT of the remote first), WARM_REQUESTS times.
//   cached  the same GET answered from the server's in-memory listing, CACHED_REQUESTS times.
// A latency is a request's send to its last body byte; a batch reports its p50 and its p99 (nearest
// rank), which is its max below 100 requests (the side's name says which).
// server.console: page.goto until the login form is visible, each load in a new browser context
// (empty cache and storage), CONSOLE_LOADS loads per measurement (median), headless Chromium via
// playwright-core; reference: a bare node:http server's tiny page holding a form of the same test id.
// BENCH_CHROMIUM (default /usr/bin/chromium): when it is missing, server.console is skipped (stderr).
import { existsSync } from 'node:fs'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser } from 'playwright-core'
import { startServer } from '../src/api/start-server.ts'
import type { RunningServer } from '../src/api/start-server.ts'
import { CACHE_FILE, VM_BACKUPS_DIR } from '../src/repository/layout.ts'
import type { Benchmark, Side } from './harness.ts'
import { timeSeconds } from './harness.ts'
import { run } from './processes.ts'
import { getJson, insertRuns, latencySides, startBareServer, writeRemoteBackups } from './server-fixtures.ts'
import { median } from './stats.ts'

const ROOT = new URL('..', import.meta.url).pathname
const RUNS = Number(process.env.BENCH_SERVER_RUNS ?? 10_000)
// 20 × 100 = 2,000 backups keeps the whole file under 2 minutes; BENCHMARKS.md gives 100 × 100.
const BACKUP_VMS = Number(process.env.BENCH_SERVER_BACKUP_VMS ?? 20)
const BACKUPS_PER_VM = Number(process.env.BENCH_SERVER_BACKUPS_PER_VM ?? 100)
const CHROMIUM = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium'
const PAGE = 500
const PAGE_REQUESTS = 100
const ALL_LISTINGS = 5
// A listing from the remote's cache.json.gz files takes seconds at 10,000 backups: 3 per run.
const WARM_REQUESTS = 3
// A listing the server keeps in memory (src/api/backup-listings.ts) is one JSON answer.
const CACHED_REQUESTS = 20
const CONSOLE_LOADS = 3
const LOGIN_FORM = '[data-testid="login-form"]'
const TINY_PAGE = `<!doctype html><meta charset="utf-8"><title>x</title>
<form data-testid="login-form"><input type="password"><button>Sign in</button></form>`
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** A server in `dir` and a token for it; its log goes to the bench's progress (stderr). */
async function benchServer(
  dir: string,
  log: (message: string) => void,
  webRoot?: string,
): Promise<{ server: RunningServer; token: string }> {
  const server = await startServer({
    dataDir: join(dir, 'data'),
    port: 0,
    log: (message) => {
      log(`server: ${message}`)
    },
    ...(webRoot === undefined ? {} : { webRoot }),
  })
  return { server, token: server.store.createToken('bench').token }
}

/** Closes the bare server, then the job server. */
function closing(bare: { close(): Promise<void> }, server: RunningServer): () => Promise<void> {
  return async () => {
    await bare.close()
    await server.close()
  }
}

async function runsSetup(dir: string, log: (message: string) => void) {
  const { server, token } = await benchServer(dir, log)
  insertRuns(server.store, RUNS)
  const pages = Math.ceil(RUNS / PAGE)
  const paths = Array.from({ length: pages }, (_, i) => `/api/runs?limit=${PAGE}&offset=${i * PAGE}`)
  const bodies = new Map<string, Buffer>()
  for (const path of paths) bodies.set(path, await getJson(server.url, path, token))
  const listed = [...bodies.values()].reduce(
    (n, body) => n + (JSON.parse(body.toString()) as { items: unknown[] }).items.length,
    0,
  )
  if (listed !== RUNS) throw new Error(`server.runs: the pages listed ${listed} runs, expected ${RUNS}`)
  const first = paths[0] as string
  log(`server.runs: a page of ${PAGE} runs is ${bodies.get(first)?.length} bytes`)
  const bare = await startBareServer(bodies)
  const get = (origin: string, path: string) => getJson(origin, path, token, bodies.get(path)?.length)
  const all = (origin: string) => async () => {
    for (const path of paths) await get(origin, path)
  }
  return {
    page: latencySides(`GET /api/runs?limit=${PAGE}`, PAGE_REQUESTS, () => get(server.url, first)),
    barePage: latencySides(`bare node:http, the same page`, PAGE_REQUESTS, () => get(bare.origin, first)),
    all: latencySides(`all ${RUNS} runs, ${pages} GETs in sequence`, ALL_LISTINGS, all(server.url)),
    bareAll: latencySides(`bare node:http, the same ${pages} GETs`, ALL_LISTINGS, all(bare.origin)),
    close: closing(bare, server),
  }
}

/** Deletes every VM's listing cache on the remote, so that the next listing reads all the metadata. */
async function dropListingCaches(remoteDir: string): Promise<void> {
  const vmsDir = join(remoteDir, VM_BACKUPS_DIR)
  for (const vm of await readdir(vmsDir)) await rm(join(vmsDir, vm, CACHE_FILE), { force: true })
}

/** Adds the remote at `url` through the API; the path of its backup listing and how to re-save it. */
async function addRemote(
  origin: string,
  token: string,
  url: string,
): Promise<{ path: string; forget: () => Promise<void> }> {
  const created = await fetch(`${origin}/api/remotes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', url }),
  })
  if (created.status !== 201)
    throw new Error(`POST /api/remotes: HTTP ${created.status} ${(await created.text()).slice(0, 200)}`)
  const { id } = (await created.json()) as { id: string }
  return {
    path: `/api/remotes/${id}/backups`,
    // Saving the remote unchanged drops the server's in-memory listing (what a user's edit does).
    forget: async () => {
      const saved = await fetch(`${origin}/api/remotes/${id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'bench', url }),
      })
      if (saved.status !== 200) throw new Error(`PUT /api/remotes/${id}: HTTP ${saved.status}`)
    },
  }
}

async function backupsSetup(dir: string, log: (message: string) => void) {
  const remoteDir = join(dir, 'remote')
  const expected = BACKUP_VMS * BACKUPS_PER_VM
  await writeRemoteBackups(remoteDir, BACKUP_VMS, BACKUPS_PER_VM)
  const { server, token } = await benchServer(dir, log)
  const { path, forget } = await addRemote(server.url, token, remoteDir)
  // The first listing: it writes the caches, and its answer is what the bare server sends.
  const body = await getJson(server.url, path, token)
  const { items } = JSON.parse(body.toString()) as { items: { complete: boolean }[] }
  const complete = items.filter((i) => i.complete).length
  if (items.length !== expected || complete !== expected)
    throw new Error(
      `server.backups: listed ${items.length} backups (${complete} complete), expected ${expected}`,
    )
  log(`server.backups: the listing of ${expected} backups is ${body.length} bytes`)
  const bare = await startBareServer(new Map([[path, body]]))
  const get = (origin: string) => () => getJson(origin, path, token, body.length)
  const cold: Side = {
    name: `GET /api/remotes/{id}/backups, ${expected} backups, no cache.json.gz (one GET)`,
    timeUnit: 'ms',
    // Wall time only: its reference's CPU is that of a whole batch, so a CPU ratio would mislead.
    async measure() {
      await dropListingCaches(remoteDir)
      await forget()
      return timeSeconds(get(server.url))
    },
  }
  return {
    cold,
    // The remote's cache.json.gz files up to date, nothing in the server's memory: each GET after
    // an untimed PUT of the remote.
    warm: latencySides(
      `GET /api/remotes/{id}/backups, ${expected} backups, cache.json.gz up to date, none in memory`,
      WARM_REQUESTS,
      get(server.url),
      forget,
    ),
    cached: latencySides(
      `GET /api/remotes/{id}/backups, ${expected} backups, kept in the server's memory`,
      CACHED_REQUESTS,
      get(server.url),
    ),
    bare: latencySides(`bare node:http, the same listing`, CACHED_REQUESTS, get(bare.origin)),
    close: closing(bare, server),
  }
}

/** dist/web, built with vite when its index.html is missing (the build is not in git). */
async function consoleRoot(log: (message: string) => void): Promise<string> {
  const webRoot = join(ROOT, 'dist', 'web')
  if (!existsSync(join(webRoot, 'index.html'))) {
    log('server.console: no dist/web/index.html: npx vite build --config web/vite.config.ts')
    await run('npx', ['vite', 'build', '--config', 'web/vite.config.ts'])
  }
  return webRoot
}

/** A side timing CONSOLE_LOADS first loads of `url` until the login form shows (their median). */
function firstLoads(name: string, browser: Browser, url: string): Side {
  return {
    name: `${name}: median of ${CONSOLE_LOADS} loads, each in a new browser context`,
    timeUnit: 'ms',
    async measure() {
      const loads: number[] = []
      for (let i = 0; i < CONSOLE_LOADS; i++) {
        const context = await browser.newContext()
        try {
          const page = await context.newPage()
          const start = process.hrtime.bigint()
          await page.goto(url, { waitUntil: 'commit' })
          await page.locator(LOGIN_FORM).waitFor({ state: 'visible', timeout: 30_000 })
          loads.push(Number(process.hrtime.bigint() - start) / 1e9)
        } finally {
          await context.close()
        }
      }
      return median(loads)
    },
  }
}

const apiBenchmarks: Benchmark[] = [
  {
    name: 'server.runs',
    async setup({ dir, log }) {
      const s = await runsSetup(dir, log)
      return {
        sides: {
          barePage: s.barePage.p50,
          barePageTail: s.barePage.tail,
          page: s.page.p50,
          pageTail: s.page.tail,
          bareAll: s.bareAll.p50,
          bareAllTail: s.bareAll.tail,
          all: s.all.p50,
          allTail: s.all.tail,
        },
        figures: [
          { name: 'server.runs.page.p50', subject: 'page', reference: 'barePage' },
          { name: 'server.runs.page.p99', subject: 'pageTail', reference: 'barePageTail' },
          { name: 'server.runs.all.p50', subject: 'all', reference: 'bareAll' },
          { name: 'server.runs.all.max', subject: 'allTail', reference: 'bareAllTail' },
        ],
        close: s.close,
      }
    },
  },
  {
    name: 'server.backups',
    async setup({ dir, log }) {
      const s = await backupsSetup(dir, log)
      return {
        sides: {
          bare: s.bare.p50,
          bareTail: s.bare.tail,
          cold: s.cold,
          warm: s.warm.p50,
          warmTail: s.warm.tail,
          cached: s.cached.p50,
          cachedTail: s.cached.tail,
        },
        figures: [
          { name: 'server.backups.cold.vs-bare-p50', subject: 'cold', reference: 'bare' },
          { name: 'server.backups.warm.p50', subject: 'warm', reference: 'bare' },
          { name: 'server.backups.warm.max', subject: 'warmTail', reference: 'bareTail' },
          { name: 'server.backups.cached.p50', subject: 'cached', reference: 'bare' },
          { name: 'server.backups.cached.max', subject: 'cachedTail', reference: 'bareTail' },
        ],
        // Setup's first listing warmed the API's path and the client; a warm-up run would add a
        // cold and 3 warm listings (about 20 s at 10,000 backups here).
        warmup: false,
        close: s.close,
      }
    },
  },
]

const consoleBenchmark: Benchmark = {
  name: 'server.console',
  async setup({ dir, log }) {
    const { server } = await benchServer(dir, log, await consoleRoot(log))
    const tiny = await startBareServer(new Map([['/', Buffer.from(TINY_PAGE)]]), 'text/html; charset=utf-8')
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    return {
      sides: {
        tiny: firstLoads('bare node:http, a tiny page with the form', browser, `${tiny.origin}/`),
        console: firstLoads('the console (dist/web) until its login form shows', browser, `${server.url}/`),
      },
      figures: [{ name: 'server.console.first-load', subject: 'console', reference: 'tiny' }],
      async close() {
        await browser.close()
        await closing(tiny, server)()
      },
    }
  },
}

const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) console.error(`server.console.first-load: skipped: ${CHROMIUM} missing`)

/** The job server's benchmarks; the console's only when Chromium is installed. */
export const benchmarks: Benchmark[] = haveChromium ? [...apiBenchmarks, consoleBenchmark] : apiBenchmarks
