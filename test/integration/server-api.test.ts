// The job server through its HTTP API against the simulator (issue 12 acceptance): a pool, a
// remote, a job and an every-minute schedule created over HTTP; the server's clock is moved by hand
// so runs are due at exact minutes; runs appear in the history with their task trees; a trigger
// while the job runs is recorded as skipped; stopping the server mid-run (what SIGTERM does)
// leaves the repository consistent, the run interrupted, no snapshot of it behind, and the next
// server carries on.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   the answers are JSON read back from our own API: the assertions check their shape. */
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { RunningServer } from '../../src/api/start-server.ts'
import { startServer } from '../../src/api/start-server.ts'
import type { RunRecord } from '../../src/daemon/model.ts'
import { checkRunDescription } from '../../src/engine/run-description.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import { checkVmBackups } from '../../src/repository/check.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { ManualClock } from '../../src/simulator/testing/manual-clock.ts'
import { createManualClock } from '../../src/simulator/testing/manual-clock.ts'
import type { TaskTreeNode } from '../../src/tasks/tree.ts'
import { runSseClient } from '../support/sse-client.ts'

const MiB = 1024 * 1024
const MINUTE = 60_000
const T0 = Date.UTC(2026, 5, 1, 12, 0, 30)

interface Api {
  (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }>
}

function apiOf(server: { url: string }, token: string): Api {
  return async (method, path, body) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await response.text()
    return { status: response.status, json: text === '' ? undefined : JSON.parse(text) }
  }
}

/** Polls until `check` returns a value (real time: runs move the simulator's bytes), at most 90 s. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 900; i++) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const walk = (node: TaskTreeNode): TaskTreeNode[] => [node, ...node.tasks.flatMap(walk)]

describe('job server over HTTP against the simulator', { timeout: 600_000 }, () => {
  let dir: string
  let sim: RunningSimulator
  let clock: ManualClock
  let server: RunningServer
  let api: Api
  let token: string
  const logs: string[] = []
  const ids: Record<string, string> = {}

  const start = async (): Promise<void> => {
    server = await startServer({ dataDir: join(dir, 'data'), clock, log: (m) => logs.push(m) })
    api = apiOf(server, token)
  }
  const runsOf = async (): Promise<RunRecord[]> =>
    (await api('GET', `/api/runs?jobId=${ids['job']}`)).json.items
  const webSnapshots = (): number =>
    sim.db
      .all('VM')
      .filter(([, r]) => r['is_a_snapshot'] === true && r['snapshot_of'] === sim.pool.vms.get('web')).length

  const webhookBodies: any[] = []
  let webhook: Server

  before(async () => {
    webhook = createServer((request, response) => {
      let body = ''
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      request.on('end', () => {
        webhookBodies.push(JSON.parse(body))
        response.end('ok')
      })
    })
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve))
    dir = await mkdtemp(join(tmpdir(), 'xapi-backup-server-'))
    await mkdir(join(dir, 'repo'))
    sim = await startSimulator({
      pool: {
        name: 'server pool',
        hosts: [{ name: 'host-1', address: '127.0.0.1' }],
        srs: [{ name: 'Local', type: 'ext' }],
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
    clock = createManualClock(T0)
    const bootstrap = await startServer({ dataDir: join(dir, 'data'), clock, log: (m) => logs.push(m) })
    token = bootstrap.store.createToken('test').token
    await bootstrap.close()
    await start()
  })

  after(async () => {
    await server.close()
    await sim.close()
    webhook.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('creates a pool, a remote, a job and an every-minute schedule; never answers a secret', async () => {
    const pool = await api('POST', '/api/pools', {
      name: 'sim',
      url: sim.url,
      username: sim.username,
      password: sim.password,
    })
    assert.equal(pool.status, 201)
    ids['pool'] = pool.json.id
    assert.equal((await api('POST', `/api/pools/${ids['pool']}/test`)).json.ok, true)
    const vms = (await api('GET', `/api/pools/${ids['pool']}/vms`)).json.items as {
      uuid: string
      name: string
    }[]
    const web = vms.find((vm) => vm.name === 'web')
    assert.ok(web, 'the pool lists its VM')
    ids['vm'] = web.uuid
    const remote = await api('POST', '/api/remotes', { name: 'repo', url: `file://${join(dir, 'repo')}` })
    assert.equal(remote.status, 201)
    ids['remote'] = remote.json.id
    const job = {
      name: 'nightly',
      mode: 'delta',
      remotes: [ids['remote']],
      vms: { id: ids['vm'] },
      settings: { '': { exportRetention: 3, reportWhen: 'always' } },
    }

    // The API refuses a bad job with the CLI's own one-line reason and the field's path.
    const bad = { ...job, settings: { '': { exportRetention: -1 } } }
    const refused = await api('POST', '/api/jobs', bad)
    assert.equal(refused.status, 400)
    assert.throws(
      () =>
        checkRunDescription({
          job: {
            ...bad,
            remotes: { id: ids['remote'] },
            id: '00000000-0000-4000-8000-000000000000',
            type: 'backup',
          },
          schedule: { id: 's' },
          remotes: { [ids['remote'] ?? '']: { url: 'file:///x' } },
          xapis: { x: { url: 'https://x.invalid', credentials: { username: 'u', password: 'p' } } },
        }),
      (error: Error) => error.message === refused.json.error.message,
    )
    assert.equal(refused.json.error.path, "job.settings[''].exportRetention")

    const created = await api('POST', '/api/jobs', job)
    assert.equal(created.status, 201, JSON.stringify(created.json))
    ids['job'] = created.json.id
    const badCron = await api('POST', '/api/schedules', { jobId: ids['job'], cron: '61 * * * *' })
    assert.equal(badCron.status, 400)
    assert.equal(badCron.json.error.path, 'cron')
    const { port } = webhook.address() as AddressInfo
    const notify = await api('PUT', '/api/notifications', {
      webhooks: [{ url: `http://127.0.0.1:${port}/hook` }],
      smtp: null,
    })
    assert.equal(notify.status, 200)
    const badSetting = await api('POST', '/api/schedules', {
      jobId: ids['job'],
      cron: '0 3 * * *',
      settings: { exportRetention: 'many' },
    })
    assert.equal(badSetting.status, 400)
    assert.equal(badSetting.json.error.path, 'settings.exportRetention')
    assert.match(badSetting.json.error.message, /^settings\.exportRetention: expected/)
    const schedule = await api('POST', '/api/schedules', {
      jobId: ids['job'],
      cron: '* * * * *',
      timezone: 'UTC',
    })
    assert.equal(schedule.status, 201)
    ids['schedule'] = schedule.json.id
    assert.equal(schedule.json.nextRun, T0 + 30_000, 'next run at the next minute')

    for (const path of [
      '/api/pools',
      `/api/pools/${ids['pool']}`,
      '/api/remotes',
      '/api/jobs',
      '/api/openapi.json',
    ]) {
      const text = JSON.stringify((await api('GET', path)).json)
      assert.ok(!text.includes(sim.password), `${path} shows no password`)
    }
  })

  it('runs on time (each minute), with the task tree in the history', async () => {
    clock.advance(30_000) // 12:01:00
    const run = await waitFor('the 12:01 run', async () =>
      (await runsOf()).find((r) => r.status === 'success' || r.status === 'failure'),
    )
    assert.equal(run.status, 'success', run.reason ?? '')
    assert.equal(run.start, T0 + 30_000, 'due at 12:01:00 exactly')
    assert.equal(run.trigger, 'schedule')
    assert.equal(run.scheduleId, ids['schedule'])
    assert.ok(run.sizeBytes > 0, 'bytes transferred are counted')
    assert.deepEqual(
      run.vms.map((v) => [v.uuid, v.status]),
      [[ids['vm'], 'success']],
    )
    const detail = await api('GET', `/api/runs/${run.id}`)
    const tree = detail.json.tree as TaskTreeNode
    assert.equal(tree.kind, 'job')
    assert.equal(tree.status, 'success')
    assert.ok(
      walk(tree).some((t) => t.message === 'transfer'),
      'the tree has the transfer task',
    )
    const report = await waitFor('the webhook report', () =>
      Promise.resolve(webhookBodies.find((b) => b.runId === run.id)),
    )
    assert.equal(report.status, 'success')
    assert.equal(report.jobName, 'nightly')
    assert.equal(report.sizeBytes, run.sizeBytes)
    const backups = await api('GET', `/api/remotes/${ids['remote']}/backups`)
    assert.equal(backups.json.items.length, 1)
    assert.equal(backups.json.items[0].complete, true)
    assert.equal(backups.json.items[0].jobName, 'nightly', 'the job is named')
    const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
    const text = await metrics.text()
    assert.match(text, /^xapi_backup_runs_total\{job="nightly",status="success"\} 1$/m)
    assert.match(
      text,
      new RegExp(`^xapi_backup_transferred_bytes_total\\{job="nightly"\\} ${run.sizeBytes}$`, 'm'),
    )
    assert.match(
      text,
      new RegExp(
        `^xapi_backup_vm_last_success_timestamp_seconds\\{vm="${ids['vm'] ?? ''}",vm_name="web"\\} `,
        'm',
      ),
    )
  })

  it('skips a trigger while the job runs (manual and scheduled), and streams the live tree', async () => {
    sim.guestWrite(ids['vm'] ?? '', { changedFraction: 0.5, seed: 7 })
    sim.faults.slowStream('/export_raw_vdi', 1 * MiB)
    clock.advance(MINUTE) // 12:02:00
    const running = await waitFor('the 12:02 run to run', async () =>
      (await runsOf()).find((r) => r.status === 'running'),
    )
    assert.equal(running.start, T0 + 90_000)
    const stream = runSseClient(`${server.url}/api/runs/${running.id}/events`, token)

    const manual = await api('POST', `/api/jobs/${ids['job']}/run`, {})
    assert.equal(manual.status, 409)
    assert.equal(manual.json.run.status, 'skipped')
    assert.match(manual.json.run.reason, new RegExp(`already running \\(run ${running.id}\\)`))
    clock.advance(MINUTE) // 12:03:00, still running
    const scheduledSkip = await waitFor('the 12:03 skipped run', async () =>
      (await runsOf()).find((r) => r.status === 'skipped' && r.trigger === 'schedule'),
    )
    assert.equal(scheduledSkip.start, T0 + 150_000)

    const { events, end } = await stream
    assert.equal(end.id, running.id)
    assert.equal(end.status, 'success', end.reason ?? '')
    assert.equal(events[0]?.event, 'job.start')
    assert.equal(events.at(-1)?.event, 'job.end')
    assert.ok(
      events.some((e) => e.event === 'task.progress'),
      'progress events are streamed',
    )
    // Reconnecting with Last-Event-ID resumes after it: nothing twice, nothing missing.
    const resumed = await runSseClient(
      `${server.url}/api/runs/${running.id}/events`,
      token,
      events.length - 3,
    )
    assert.deepEqual(resumed.events, events.slice(-2))
  })

  it('stopping the server mid-run cancels the run cleanly; the next server carries on', async () => {
    sim.guestWrite(ids['vm'] ?? '', { changedFraction: 0.5, seed: 8 })
    sim.faults.slowStream('/export_raw_vdi', 256 * 1024)
    const started = await api('POST', `/api/jobs/${ids['job']}/run`, {})
    assert.equal(started.status, 202)
    const runId = started.json.run.id as string
    await waitFor('the transfer to start', async () => {
      const tree = (await api('GET', `/api/runs/${runId}`)).json.tree as TaskTreeNode | null
      return tree !== null && walk(tree).some((t) => t.message === 'transfer') ? true : undefined
    })
    assert.equal(webSnapshots(), 2, 'the base of the chain and the snapshot being exported')
    await server.close() // what SIGTERM does (src/cli/serve.ts)
    assert.equal(webSnapshots(), 1, "the cancelled run's snapshot is gone, the chain's base stays")

    const remote = await openLocalRemote(join(dir, 'repo'))
    const report = await checkVmBackups(remote, ids['vm'] ?? '')
    assert.deepEqual(
      report.findings.map((f) => `${f.kind}: ${f.path}`),
      [],
      'no half-written backup is left',
    )
    assert.equal(report.completeBackups.length, 2, 'the two earlier backups are intact')

    // Down from 12:03:00 to 12:06:10: 12:04 and 12:05 are missed; 12:06 is within the grace and runs.
    clock.advance(3 * MINUTE + 10_000)
    await start()
    const stopped = (await api('GET', `/api/runs/${runId}`)).json.run as RunRecord
    assert.equal(stopped.status, 'interrupted')
    assert.ok(stopped.end !== null, 'the interrupted run has an end')
    const missed = (await api('GET', `/api/runs?jobId=${ids['job']}&status=missed`)).json.items as RunRecord[]
    assert.deepEqual(
      missed.map((r) => r.start).sort(),
      [T0 + 210_000, T0 + 270_000],
      'the occurrences while the server was down are listed as missed',
    )
    const done = await waitFor('the 12:06 run after restart', async () =>
      (await runsOf()).find(
        (r) => r.start === T0 + 330_000 && r.status !== 'running' && r.status !== 'pending',
      ),
    )
    assert.equal(done.trigger, 'schedule')
    assert.equal(done.status, 'success', done.reason ?? '')
    assert.equal((await checkVmBackups(remote, ids['vm'] ?? '')).completeBackups.length, 3)
    assert.equal(webSnapshots(), 1, 'one snapshot: the new base')
    assert.ok(!logs.join('\n').includes(token), 'the token is never logged')
  })

  it('restores a backup and health-checks one as runs of their own', async () => {
    const srs = (await api('GET', `/api/pools/${ids['pool']}/srs`)).json.items as {
      uuid: string
      name: string
    }[]
    const sr = srs.find((s) => s.name === 'Local')
    assert.ok(sr, 'the pool lists its SR')
    const backups = (await api('GET', `/api/remotes/${ids['remote']}/backups?vm=${ids['vm']}`)).json.items
    assert.equal(backups.length, 3)
    const vmsBefore = sim.db.all('VM').length
    const ended = async (runId: string): Promise<RunRecord> =>
      waitFor(`run ${runId}`, async () => {
        const run = (await api('GET', `/api/runs/${runId}`)).json.run as RunRecord
        return run.status === 'running' || run.status === 'pending' ? undefined : run
      })
    const restore = await api('POST', '/api/restore', {
      remoteId: ids['remote'],
      backupId: backups[0].id,
      poolId: ids['pool'],
      srId: sr.uuid,
    })
    assert.equal(restore.status, 202, JSON.stringify(restore.json))
    const restored = await ended(restore.json.run.id)
    assert.equal(restored.status, 'success', restored.reason ?? '')
    assert.equal(restored.kind, 'restore')
    assert.equal(restored.params['vmUuid'], ids['vm'])
    const tree = (await api('GET', `/api/runs/${restored.id}`)).json.tree as TaskTreeNode
    assert.equal(tree.message, 'restore')
    assert.ok(sim.db.all('VM').length > vmsBefore, 'a VM was created')

    const check = await api('POST', '/api/health-check', {
      remoteId: ids['remote'],
      backupId: backups[0].id,
      poolId: ids['pool'],
      srId: sr.uuid,
    })
    assert.equal(check.status, 202)
    const checked = await ended(check.json.run.id)
    assert.equal(checked.status, 'success', checked.reason ?? '')
    assert.equal(checked.kind, 'healthCheck')
    const refused = await api('POST', '/api/restore', {
      remoteId: ids['remote'],
      backupId: '../../etc/passwd',
      poolId: ids['pool'],
      srId: sr.uuid,
    })
    assert.equal(refused.status, 400)
    assert.equal(refused.json.error.path, 'backupId')
  })
})
