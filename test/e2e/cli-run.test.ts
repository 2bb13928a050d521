// `xapi-backup run` as a user runs it (in-process, captured output) against the simulator and a
// local remote: the live view in plain lines, the summary, the exit code, the JSONL log, --explain,
// and setup failures (wrong password, unreachable XAPI) that name the field in one line and write nothing.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'

const MiB = 1024 * 1024
const JOB_ID = '4f0b3c6e-5d1a-4b8e-9c2f-0a1b2c3d4e5f'

describe('xapi-backup run', () => {
  let dir: string
  let sim: RunningSimulator
  let remoteDir: string
  const description = (password: string, mode = 'delta', extra = ''): string =>
    [
      'job:',
      `  id: ${JOB_ID}`,
      '  name: nightly',
      `  mode: ${mode}`,
      '  type: backup',
      '  remotes: { id: nas }',
      `  vms: { id: ${sim.db.get('VM', sim.pool.vms.get('web') ?? '').uuid as string} }`,
      '  settings:',
      `    '': { exportRetention: 2${extra} }`,
      'remotes:',
      `  nas: { url: "file://${remoteDir}" }`,
      'schedule:',
      '  id: daily',
      'xapis:',
      '  pool:',
      `    url: ${sim.url}`,
      '    credentials:',
      `      username: ${sim.username}`,
      `      password: "${password}"`,
      '',
    ].join('\n')

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-run-'))
    remoteDir = join(dir, 'remote')
    await mkdir(remoteDir)
    await mkdir(join(dir, 'sim'))
    sim = await startSimulator({
      dataDir: join(dir, 'sim'),
      pool: {
        name: 'cli pool',
        hosts: [{ name: 'host-1', address: '127.0.0.1' }],
        srs: [{ name: 'Local', type: 'ext', sizeBytes: 256 * MiB }],
        networks: [{ name: 'net', bridge: 'xenbr0' }],
        vms: [
          {
            name: 'web',
            powerState: 'Running',
            disks: [{ name: 'web system', sizeBytes: 8 * MiB, content: { seed: 5, allocatedFraction: 0.5 } }],
            networks: ['net'],
          },
        ],
      },
    })
  })
  after(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  it(
    'runs a delta job: plain progress lines, a summary, exit 0 and a JSONL log',
    { timeout: 120_000 },
    async () => {
      const file = join(dir, 'job.yaml')
      await writeFile(file, description(sim.password))
      const log = join(dir, 'run.jsonl')
      const run = await cli('run', file, '--log', log)
      assert.equal(run.code, 0, run.err + run.out)
      assert.match(run.out, /status: success \(exit code 0\)/)
      assert.match(run.out, /VMs: 1 success/)
      assert.match(run.out, /transfer/)
      assert.doesNotMatch(run.out + run.err, new RegExp(sim.password.replace(/[^\w]/g, '.')))
      const events = (await readFile(log, 'utf8'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { event: string })
      assert.equal(events[0]?.event, 'job.start')
      assert.equal(events.at(-1)?.event, 'job.end')
      const shown = await cli('log', 'show', log)
      assert.equal(shown.code, 0)
      assert.match(shown.out, /transfer/)
    },
  )

  it(
    '--explain prints the effective settings and where they come from, and runs nothing',
    { timeout: 60_000 },
    async () => {
      const file = join(dir, 'explain.yaml')
      await writeFile(file, description(sim.password))
      const before = await readdir(remoteDir, { recursive: true })
      const run = await cli('run', file, '--explain')
      assert.equal(run.code, 0, run.err)
      assert.match(run.out, /exportRetention\s+2\s+job/)
      assert.match(run.out, /snapshotRetention\s+0\s+default/)
      assert.deepEqual(await readdir(remoteDir, { recursive: true }), before)
    },
  )

  it(
    'a wrong password is one line naming the xapi, nothing is snapshotted or written',
    { timeout: 60_000 },
    async () => {
      const file = join(dir, 'bad.yaml')
      const secret = 'not-the-password-123'
      await writeFile(file, description(secret))
      const snapshots = (sim.db.get('VM', sim.pool.vms.get('web') ?? '').snapshots as string[]).length
      const before = await readdir(remoteDir, { recursive: true })
      const run = await cli('run', file)
      assert.equal(run.code, 1)
      assert.equal(run.err.trim().split('\n').length, 1, run.err)
      assert.match(
        run.err,
        /^error: xapis\.pool: cannot log in to http:\/\/127\.0\.0\.1:\d+.*SESSION_AUTHENTICATION_FAILED/,
      )
      assert.doesNotMatch(run.out + run.err, new RegExp(secret))
      assert.equal((sim.db.get('VM', sim.pool.vms.get('web') ?? '').snapshots as string[]).length, snapshots)
      assert.deepEqual(await readdir(remoteDir, { recursive: true }), before)
    },
  )

  it(
    'an unreachable XAPI is one line naming the xapi and the refusal, nothing written',
    { timeout: 120_000 },
    async () => {
      // A port that was just free: nothing listens on it.
      const server = createServer()
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const { port } = server.address() as AddressInfo
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
      const file = join(dir, 'unreachable.yaml')
      await writeFile(file, description('secret-xyz').replace(sim.url, `http://127.0.0.1:${port}`))
      const before = await readdir(remoteDir, { recursive: true })
      const run = await cli('run', file)
      assert.equal(run.code, 1)
      assert.equal(run.err.trim().split('\n').length, 1, run.err)
      assert.match(
        run.err,
        new RegExp(`^error: xapis\\.pool: cannot log in to http://127\\.0\\.0\\.1:${port}.*ECONNREFUSED`),
      )
      assert.doesNotMatch(run.out + run.err, /secret-xyz/)
      assert.deepEqual(await readdir(remoteDir, { recursive: true }), before)
    },
  )
})
