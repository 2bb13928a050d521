// The web console in a real Chromium (issue 12 acceptance): log in with a token, create a delta
// job in the console, run it and watch its live task tree reach success, restore its backup from
// the Backups page and find the restored VM in the simulator; a phone-sized viewport shows the
// dashboard and a run page without horizontal overflow. The token never shows in a URL or in
// localStorage. Screenshots of each step are kept under test-artifacts/browser/.
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { TestContext } from 'node:test'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { requireTool } from '../../src/shared/testing/oracles.ts'
import type { ConsoleWorld } from './console-world.ts'
import {
  ARTIFACTS,
  CHROMIUM,
  chromiumRuns,
  launchChromium,
  openPage,
  startConsoleWorld,
} from './console-world.ts'

const MiB = 1024 * 1024
const RUN_LIMIT_MS = 120_000
const byId = (id: string): string => `[data-testid="${id}"]`
const RUN_URL = /\/runs\/([^/?#]+)$/

/** What a person sees (the viewport); `whole` for the whole page from its top (phone pages). */
async function shot(page: Page, name: string, whole = false): Promise<void> {
  // A full-page capture keeps sticky bars where the scrolled viewport had them: start from the top.
  if (whole) await page.evaluate('window.scrollTo(0, 0)')
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: whole, timeout: 30_000 })
}

/** Fails when the token shows in the page's URL, in any URL the tab went to, or in localStorage. */
async function assertTokenHidden(page: Page, token: string, visited: readonly string[]): Promise<void> {
  assert.ok(!page.url().includes(token), `the token is in the URL ${page.url()}`)
  for (const url of visited) assert.ok(!url.includes(token), `the token was in the URL ${url}`)
  const local = await page.evaluate<string>('JSON.stringify(Object.entries(window.localStorage))')
  assert.ok(!local.includes(token), 'the token is in localStorage')
}

/** Scroll width beyond the viewport (0 when nothing overflows sideways). */
async function overflowPx(page: Page): Promise<number> {
  return page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')
}

async function login(page: Page, world: ConsoleWorld, name: string): Promise<void> {
  await page.goto(`${world.server.url}/`)
  await page.fill(byId('login-token'), world.token)
  await shot(page, name)
  await page.click(byId('login-submit'))
  await page.waitForSelector(byId('nav-brand'))
}

/** Waits until the run page's tree and record have ended; returns the root's status. */
async function waitForRunEnd(page: Page): Promise<string | null> {
  const root = await page.waitForSelector(`${byId('task-root')}:not([data-status="pending"])`, {
    timeout: RUN_LIMIT_MS,
  })
  await page.waitForSelector(`${byId('run-summary')} .badge:not([data-status="running"])`)
  // The stream's state line goes once the end event came and the server's final tree is drawn.
  await page.waitForSelector(byId('stream-state'), { state: 'detached' })
  return root.getAttribute('data-status')
}

async function runSummary(page: Page): Promise<string> {
  return (await page.textContent(byId('run-summary'))) ?? ''
}

async function fillJobForm(page: Page, world: ConsoleWorld): Promise<void> {
  await page.click(byId('nav-jobs'))
  await page.click(byId('jobs-new'))
  await page.fill(byId('job-name'), 'nightly web')
  await page.selectOption(byId('job-mode'), 'delta')
  await page.check(`${byId('job-remote')}[data-remote-id="${world.remoteId}"]`)
  await page.selectOption(byId('job-vm-pool'), world.poolId)
  await page.check(`${byId('job-vm')}[data-uuid="${world.vmUuid}"]`)
  await page.fill(byId('job-setting-exportRetention'), '2')
}

describe('web console in Chromium', { timeout: 480_000 }, () => {
  let world: ConsoleWorld | undefined
  let browser: Browser | undefined
  let desktop: Awaited<ReturnType<typeof openPage>> | undefined
  const visited: string[] = []
  let backupRunId = ''
  const timings: string[] = []

  const timed = async <T>(label: string, step: () => Promise<T>): Promise<T> => {
    const start = performance.now()
    const value = await step()
    timings.push(`${label} ${Math.round(performance.now() - start)} ms`)
    return value
  }
  const ready = (t: TestContext): { world: ConsoleWorld; browser: Browser } | undefined => {
    if (!requireTool(t, CHROMIUM)) return undefined
    assert.ok(world !== undefined && browser !== undefined, 'the setup hook started the world')
    return { world, browser }
  }

  before(async () => {
    if (!chromiumRuns()) return
    await mkdir(ARTIFACTS, { recursive: true })
    world = await timed('setup (console build, simulator, server, pool, remote)', startConsoleWorld)
    browser = await timed('chromium launch', launchChromium)
  })

  after(async () => {
    await browser?.close().catch(() => undefined)
    await world?.close()
    // For a failure's post-mortem: what the page and the server said besides the assertions.
    const notes = [
      ...timings.map((line) => `timing: ${line}`),
      ...(desktop?.consoleErrors ?? []).map((line) => `browser console error: ${line}`),
      ...(world?.logs ?? []).slice(-20).map((line) => `server: ${line}`),
    ]
    for (const note of notes) process.stdout.write(`# ${note}\n`)
  })

  it('logs in, creates a delta job, runs it and watches the live tree reach success', async (t) => {
    const env = ready(t)
    if (env === undefined) return
    const { world } = env
    desktop = await openPage(env.browser, { viewport: { width: 1280, height: 900 } })
    const { page } = desktop
    page.on('framenavigated', (frame) => visited.push(frame.url()))

    await timed('login', () => login(page, world, '01-login'))
    await assertTokenHidden(page, world.token, visited)
    await timed('job form', () => fillJobForm(page, world))
    await page.evaluate('window.scrollTo(0, 0)')
    await shot(page, '02-job-form')
    await page.click(byId('job-save'))
    const saved = await page.waitForSelector(`${byId('job-run')}, ${byId('job-error')}`)
    assert.equal(await saved.getAttribute('data-testid'), 'job-run', (await saved.textContent()) ?? '')
    assert.match(page.url(), /\/jobs\/[^/]+$/, 'a created job has its own page')
    await assertTokenHidden(page, world.token, visited)

    // The first export crawls, so the page can be seen following the run while it runs.
    world.sim.faults.slowStream('/export_raw_vdi', 1 * MiB)
    await page.click(byId('job-run'))
    await page.waitForURL(RUN_URL)
    backupRunId = RUN_URL.exec(page.url())?.[1] ?? ''
    await timed('live tree shown', () =>
      page.waitForSelector(`${byId('task-root')}[data-status="pending"]`, { timeout: RUN_LIMIT_MS }),
    )
    await page.waitForSelector(`${byId('stream-state')}.stream-open`)
    await shot(page, '03-backup-run-live')
    const status = await timed('backup run', () => waitForRunEnd(page))
    assert.equal(status, 'success', await runSummary(page))
    assert.equal(await page.getAttribute(byId('run-vm'), 'data-status'), 'success')
    assert.equal(await page.locator('.progress.indeterminate').count(), 0, 'an ended task has no sliding bar')
    await shot(page, '04-backup-run-success')
    await assertTokenHidden(page, world.token, visited)
    assert.deepEqual(desktop.pageErrors, [], 'no uncaught error in the page')
  })

  it('restores the backup from the Backups page and the VM appears in the pool', async (t) => {
    const env = ready(t)
    if (env === undefined) return
    const { world } = env
    assert.ok(desktop !== undefined && backupRunId !== '', 'the backup test ran first')
    const { page } = desktop

    await page.click(byId('nav-backups'))
    await page.selectOption(byId('backups-remote'), world.remoteId)
    const vmCard = page.locator(byId('backup-vm'), { hasText: 'web' })
    await vmCard.locator(byId('backup-row')).first().waitFor()
    assert.equal(await vmCard.locator(byId('backup-row')).count(), 1, 'one backup of web')
    const row = (await vmCard.locator(byId('backup-row')).textContent()) ?? ''
    assert.match(row, /nightly web/, 'the backup names its job')
    await shot(page, '05-backups')
    await vmCard.locator(byId('restore-button')).first().click()
    await page.waitForSelector(byId('restore-dialog'))
    await page.selectOption(byId('restore-pool'), world.poolId)
    await page.waitForSelector(`${byId('restore-sr')} option[value="${world.srUuid}"]`, { state: 'attached' })
    await page.selectOption(byId('restore-sr'), world.srUuid)
    await shot(page, '06-restore-dialog')
    await page.click(byId('restore-submit'))
    await page.waitForURL((url) => RUN_URL.test(url.pathname) && !url.pathname.endsWith(backupRunId))
    const status = await timed('restore run', () => waitForRunEnd(page))
    assert.equal(status, 'success', await runSummary(page))
    await shot(page, '07-restore-run-success')
    await assertTokenHidden(page, world.token, visited)

    const restored = world.sim.db
      .all('VM')
      .filter(
        ([ref, vm]) =>
          ref !== world.vmRef &&
          vm['is_a_snapshot'] !== true &&
          typeof vm['name_label'] === 'string' &&
          vm['name_label'].startsWith('web'),
      )
    assert.equal(
      restored.length,
      1,
      `one restored VM: ${JSON.stringify(restored.map(([, vm]) => vm['name_label']))}`,
    )
    assert.deepEqual(desktop.pageErrors, [], 'no uncaught error in the page')
  })

  it('fits a phone: dashboard and run page without horizontal overflow', async (t) => {
    const env = ready(t)
    if (env === undefined) return
    const { world } = env
    assert.ok(backupRunId !== '', 'the backup test ran first')
    const phone = await openPage(env.browser, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    })
    const { page } = phone
    const phoneVisited: string[] = []
    page.on('framenavigated', (frame) => phoneVisited.push(frame.url()))

    await login(page, world, '08-phone-login')
    await page.waitForSelector(byId('dashboard-last-run'))
    await shot(page, '09-phone-dashboard', true)
    // The desktop tab loaded the dashboard before the backup: its repository sizes must not linger.
    assert.match((await page.textContent(byId('stat-stored'))) ?? '', /stored in 1 backup$/)
    const dashboardOverflow = await overflowPx(page)
    assert.ok(dashboardOverflow <= 0, `the dashboard overflows sideways by ${dashboardOverflow} px`)

    await page.click(byId('nav-menu'))
    await page.click(byId('nav-runs'))
    await page.click(`${byId('run-row')}[data-run-id="${backupRunId}"] a`)
    await page.waitForURL(RUN_URL)
    await page.waitForSelector(`${byId('task-root')}[data-status="success"]`)
    await shot(page, '10-phone-run', true)
    const runOverflow = await overflowPx(page)
    assert.ok(runOverflow <= 0, `the run page overflows sideways by ${runOverflow} px`)
    await assertTokenHidden(page, world.token, phoneVisited)
    assert.deepEqual(phone.pageErrors, [], 'no uncaught error in the page')
  })
})
