// What the console's browser tests stand on: the console built from web/ into a temp folder (so
// the test sees the current sources, and never races another build of dist/web), a simulated pool
// with one running VM, the job server with a pool and a remote added over its API, and Debian's
// Chromium driven by playwright-core.
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import { chromium } from 'playwright-core'
import type { RunningServer } from '../../src/api/start-server.ts'
import { startServer } from '../../src/api/start-server.ts'
import type { OracleTool } from '../../src/shared/testing/oracles.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'

const MiB = 1024 * 1024
const root = fileURLToPath(new URL('../..', import.meta.url))

/** Debian's Chromium, which playwright-core drives (it cannot download a browser of its own here). */
export const CHROMIUM: OracleTool = {
  name: 'chromium',
  probe: ['/usr/bin/chromium', '--version'],
  install: 'apt-get install chromium fonts-liberation',
}

/** Where the screenshots are kept as test artefacts (ignored by git and prettier). */
export const ARTIFACTS = join(root, 'test-artifacts', 'browser')

/** True when /usr/bin/chromium runs (the same probe requireTool makes, for the setup hook). */
export function chromiumRuns(): boolean {
  const [command, ...args] = CHROMIUM.probe
  return spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 }).status === 0
}

/** Builds the console from web/ into `outDir` with the project's vite config. */
export async function buildConsole(outDir: string): Promise<void> {
  const vite = await import('vite')
  await vite.build({
    configFile: join(root, 'web', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  })
}

/** Everything the browser tests use, and how to stop it all. */
export interface ConsoleWorld {
  readonly sim: RunningSimulator
  readonly server: RunningServer
  readonly token: string
  readonly poolId: string
  readonly remoteId: string
  /** The VM `web` (running, one 8 MiB disk). */
  readonly vmUuid: string
  readonly vmRef: string
  /** The SR `Local`, where the restore goes. */
  readonly srUuid: string
  readonly logs: readonly string[]
  close(): Promise<void>
}

async function apiCall<T>(server: RunningServer, token: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${server.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text}`)
  return JSON.parse(text) as T
}

/** Starts the simulator and the server (console served from a fresh build), adds the pool and the remote. */
export async function startConsoleWorld(): Promise<ConsoleWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'xapi-backup-browser-'))
  const closers: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })]
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => undefined)
  }
  try {
    await buildConsole(join(dir, 'web'))
    await mkdir(join(dir, 'repo'))
    const sim = await startSimulator({
      pool: {
        name: 'browser pool',
        hosts: [{ name: 'host-1', address: '127.0.0.1' }],
        srs: [{ name: 'Local', type: 'ext', sizeBytes: 64 * 1024 * MiB }],
        networks: [{ name: 'net', bridge: 'xenbr0' }],
        vms: [
          {
            name: 'web',
            powerState: 'Running',
            disks: [
              {
                name: 'web disk',
                sizeBytes: 8 * MiB,
                sr: 'Local',
                content: { seed: 3, allocatedFraction: 0.5 },
              },
            ],
            networks: ['net'],
          },
        ],
      },
    })
    closers.push(() => sim.close())
    const logs: string[] = []
    const server = await startServer({
      dataDir: join(dir, 'data'),
      port: 0,
      webRoot: join(dir, 'web'),
      log: (m) => logs.push(m),
    })
    closers.push(() => server.close())
    const token = server.store.createToken('browser').token
    const pool = await apiCall<{ id: string }>(server, token, '/api/pools', {
      name: 'sim',
      url: sim.url,
      username: sim.username,
      password: sim.password,
    })
    const remote = await apiCall<{ id: string }>(server, token, '/api/remotes', {
      name: 'local repo',
      url: `file://${join(dir, 'repo')}`,
    })
    const { items: vms } = await apiCall<{ items: { uuid: string; name: string }[] }>(
      server,
      token,
      `/api/pools/${pool.id}/vms`,
    )
    const vm = vms.find((v) => v.name === 'web')
    const vmRef = sim.pool.vms.get('web')
    if (vm === undefined || vmRef === undefined) throw new Error('the pool does not list its VM web')
    const srUuid = sim.db.get('SR', sim.pool.srs.get('Local') ?? '')['uuid']
    if (typeof srUuid !== 'string') throw new Error('the pool has no SR Local')
    return {
      sim,
      server,
      token,
      poolId: pool.id,
      remoteId: remote.id,
      vmUuid: vm.uuid,
      vmRef,
      srUuid,
      logs,
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

/** Launches headless Chromium with what a sandboxed, offline machine needs. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM.probe[0],
    headless: true,
    timeout: 60_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** A page with bounded waits whose uncaught errors and console errors are collected. */
export async function openPage(
  browser: Browser,
  options: BrowserContextOptions,
): Promise<{ page: Page; pageErrors: string[]; consoleErrors: string[] }> {
  const context = await browser.newContext(options)
  context.setDefaultTimeout(30_000)
  context.setDefaultNavigationTimeout(30_000)
  const page = await context.newPage()
  const pageErrors: string[] = []
  const consoleErrors: string[] = []
  page.on('pageerror', (error) => pageErrors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })
  return { page, pageErrors, consoleErrors }
}
