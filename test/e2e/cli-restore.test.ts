// `xapi-backup restore` as a user runs it: a simulator in its own process (`xapi-backup simulator
// --tls`), backups made by `xapi-backup run`, ids taken from `backups list --json`, then restores
// in child processes: the task view and summary, `--json`'s one line, the JSONL log, TLS verified
// unless --allow-unauthorized, Ctrl-C (nothing left on the pool), and the failures a user meets
// (unknown backup, hostile id, missing SR, a password on the command line) in one line each.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import { isOneErrorLine, runCliProcess } from './cli-support.ts'
import type { CliProcessRun } from './cli-support.ts'

const MiB = 1024 * 1024
const PASSWORD = 'e2e-restore-Pa55'
const DELTA_JOB = '4f0b3c6e-5d1a-4b8e-9c2f-0a1b2c3d4e5f'
const FULL_JOB = '6b2e1f7c-3d4e-4f60-9bac-1d2e3f4a5b6c'
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))

const POOL = `name: e2e restore pool
hosts:
  - name: host-1
    address: 127.0.0.1
srs:
  - name: Local
    type: ext
    sizeBytes: ${4096 * MiB}
  - name: Other
    type: ext
    sizeBytes: ${4096 * MiB}
networks:
  - name: net
    bridge: xenbr0
  - name: storage
    bridge: xapi1
    vlan: 20
vms:
  - name: web
    description: the web server
    powerState: Running
    tags: [prod]
    disks:
      - name: web system
        sizeBytes: ${8 * MiB}
        content: { seed: 1, allocatedFraction: 0.5 }
      - name: web data
        sizeBytes: ${4 * MiB}
        content: { seed: 2, allocatedFraction: 0.5 }
    networks: [net, storage]
  - name: big
    powerState: Halted
    disks:
      - name: big system
        sizeBytes: ${512 * MiB}
        content: { seed: 3, allocatedFraction: 0.5 }
    networks: [net]
`

interface Simulator {
  readonly child: ChildProcess
  readonly url: string
}

/** `xapi-backup simulator --tls` in its own process, once it printed its URL. */
async function startSimulatorProcess(dir: string): Promise<Simulator> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', main, 'simulator', '--tls', '--config', join(dir, 'pool.yaml'), '--password', PASSWORD, '--data-dir', join(dir, 'sim')],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  ) // prettier-ignore
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`the simulator did not start: ${out}`))
    }, 60_000)
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      out += text
      const found = /^url: (\S+)$/m.exec(out)?.[1]
      if (found !== undefined && /^pool: /m.test(out)) {
        clearTimeout(timer)
        resolve(found)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`the simulator exited (${code}): ${out}`))
    })
  })
  return { child, url }
}

function jobFile(sim: Simulator, remote: string, job: { id: string; mode: string; vm: string }): string {
  return [
    'job:',
    `  id: ${job.id}`,
    `  name: ${job.mode}-job`,
    `  mode: ${job.mode}`,
    '  type: backup',
    '  remotes: { id: nas }',
    `  vms: { name_label: ${job.vm} }`,
    "  settings: { '': { exportRetention: 3 } }",
    'remotes:',
    `  nas: { url: "file://${remote}" }`,
    'schedule:',
    '  id: daily',
    'xapis:',
    '  pool:',
    `    url: ${sim.url}`,
    '    allowUnauthorized: true',
    '    credentials:',
    '      username: root',
    '      password: { file: password }',
    '',
  ].join('\n')
}

describe('xapi-backup restore', () => {
  let dir: string
  let remote: string
  let sim: Simulator
  let xapi: HttpXapiClient
  let srUuid: string
  const ids = new Map<string, string[]>() // VM name → backup ids, oldest first
  const restoreArgs = (id: string, ...extra: string[]): string[] => [
    'restore',
    `file://${remote}`,
    id,
    '--xapi',
    sim.url,
    '--user',
    'root',
    '--sr',
    srUuid,
    ...extra,
  ]
  const env = { XAPI_PASSWORD: PASSWORD }

  /** VM, VDI, VBD and VIF refs of the pool, from outside, as a user's tool would see them. */
  async function poolObjects(): Promise<Record<string, string[]>> {
    const out: Record<string, string[]> = {}
    for (const cls of ['VM', 'VDI', 'VBD', 'VIF'] as const)
      out[cls] = [...(await xapi.getAllRecords(cls)).keys()].sort()
    return out
  }

  async function vmByUuid(
    uuid: string,
  ): Promise<{ ref: string; record: Awaited<ReturnType<typeof xapi.getRecord<'VM'>>> }> {
    const ref = await xapi.getByUuid('VM', uuid)
    return { ref, record: await xapi.getRecord('VM', ref) }
  }

  /** sha256 of a VDI's whole content, read through XAPI's /export_raw_vdi. */
  async function vdiDigest(vdi: string): Promise<string> {
    const download = await xapi.getResource('/export_raw_vdi', { vdi, format: 'raw' })
    const hash = createHash('sha256')
    for await (const chunk of download.body) hash.update(chunk as Uint8Array)
    await download.result()
    return hash.digest('hex')
  }

  /** The disk digests of a VM by userdevice. */
  async function disksOf(vmRef: string): Promise<Map<string, string>> {
    const out = new Map<string, string>()
    for (const vbdRef of (await xapi.getRecord('VM', vmRef)).VBDs) {
      const vbd = await xapi.getRecord('VBD', vbdRef)
      if (vbd.type === 'Disk') out.set(vbd.userdevice, await vdiDigest(vbd.VDI))
    }
    return out
  }

  async function destroyVm(vmRef: string): Promise<void> {
    const vm = await xapi.getRecord('VM', vmRef)
    for (const vbdRef of vm.VBDs) {
      const vbd = await xapi.getRecord('VBD', vbdRef)
      await xapi.call('VDI.destroy', [vbd.VDI])
    }
    await xapi.call('VM.destroy', [vmRef])
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-restore-'))
    remote = join(dir, 'remote')
    await mkdir(remote)
    await mkdir(join(dir, 'sim'))
    await writeFile(join(dir, 'pool.yaml'), POOL)
    await writeFile(join(dir, 'password'), `${PASSWORD}\n`)
    sim = await startSimulatorProcess(dir)
    xapi = new HttpXapiClient({ url: sim.url, user: 'root', password: PASSWORD, allowUnauthorized: true })
    await xapi.connect()
    srUuid = (
      await xapi.getRecord('SR', ((await xapi.call('SR.get_by_name_label', ['Local'])) as string[])[0] ?? '')
    ).uuid
    await writeFile(
      join(dir, 'delta.yaml'),
      jobFile(sim, remote, { id: DELTA_JOB, mode: 'delta', vm: 'web' }),
    )
    await writeFile(join(dir, 'full.yaml'), jobFile(sim, remote, { id: FULL_JOB, mode: 'full', vm: 'big' }))
    for (const file of ['delta.yaml', 'delta.yaml', 'full.yaml']) {
      const run = await runCliProcess(['run', join(dir, file)], { timeoutMs: 180_000 })
      assert.equal(run.status, 0, `run ${file}: ${run.stdout}${run.stderr}`)
    }
    const list = await runCliProcess(['backups', 'list', `file://${remote}`, '--json'])
    assert.equal(list.status, 0, list.stderr)
    const listed = JSON.parse(list.stdout) as Record<
      string,
      { backups: { id: string; metadata: { vm: { name_label: string } } }[] }
    >
    for (const { backups } of Object.values(listed))
      for (const b of backups)
        ids.set(b.metadata.vm.name_label, [...(ids.get(b.metadata.vm.name_label) ?? []), b.id])
    assert.equal(ids.get('web')?.length, 2, 'two delta backups of web')
    assert.equal(ids.get('big')?.length, 1, 'one full backup of big')
  })
  after(async () => {
    await xapi.disconnect().catch(() => undefined)
    sim.child.kill('SIGTERM')
    await new Promise((resolve) => sim.child.once('exit', resolve))
    await rm(dir, { recursive: true, force: true })
  })

  it('restores a delta backup: the task view, a summary, the restored VM with the snapshot disks', { timeout: 120_000 }, async () => {
    const id = ids.get('web')?.at(-1) ?? ''
    const log = join(dir, 'restore.jsonl')
    const run = await runCliProcess(
      [...restoreArgs(id, '--allow-unauthorized', '--log', log)],
      { env, timeoutMs: 120_000 },
    )
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`)
    assert.equal(run.stderr, '')
    assert.match(run.stdout, /^restore: started$/m)
    assert.match(run.stdout, /^restore > transfer: done /m)
    assert.match(run.stdout, /^status: success \(exit code 0\)$/m)
    const uuid = /^restored: VM ([0-9a-f-]{36}) "web \(\d{8}T\d{6}Z\)" \(.+\) from xo-vm-backups\/.+\.json$/m.exec(run.stdout)?.[1]
    assert.ok(uuid !== undefined, run.stdout)
    assert.ok(!run.stdout.includes(PASSWORD), 'the password never shows')
    // The log is the seed's tree: a root restore task and its transfer with { id, size }.
    const events = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    const starts = events.filter((e) => e.event === 'task.start')
    assert.deepEqual(starts.map((e) => e.message), ['restore', 'transfer'])
    const ends = events.filter((e) => e.event === 'task.end')
    assert.deepEqual((ends[0]?.result as { id?: string }).id, uuid)
    const { ref, record } = await vmByUuid(uuid)
    assert.ok(record.tags.includes('restored from backup'), 'tagged')
    assert.match(record.name_description, / - the web server$/)
    // Same bytes as the newest snapshot of web (what the backup was taken from).
    const [web] = await xapi.call('VM.get_by_name_label', ['web']) as string[]
    const snapshots = await Promise.all((await xapi.getRecord('VM', web ?? '')).snapshots.map(async (s) => ({ s, r: await xapi.getRecord('VM', s) })))
    const newest = snapshots.sort((a, b) => b.r.snapshot_time.localeCompare(a.r.snapshot_time))[0]
    assert.ok(newest !== undefined, 'a snapshot of web')
    assert.deepEqual(await disksOf(ref), await disksOf(newest.s))
    assert.equal(record.VIFs.length, 2, 'both VIFs')
    await destroyVm(ref)
  }) // prettier-ignore

  it('restores a full backup with --json: one line, the VM with the disk bytes', { timeout: 120_000 }, async () => {
    const id = ids.get('big')?.[0] ?? ''
    const objects = await poolObjects()
    const run = await runCliProcess([...restoreArgs(id, '--allow-unauthorized', '--json')], { env, timeoutMs: 120_000 })
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`)
    const lines = run.stdout.trim().split('\n')
    assert.equal(lines.length, 1, run.stdout)
    const result = JSON.parse(lines[0] ?? '') as { vm: string; name: string; size: number; backupId: string }
    assert.deepEqual(Object.keys(result).sort(), ['backupId', 'name', 'size', 'vm'])
    assert.equal(result.backupId, id)
    assert.match(result.name, /^big \(\d{8}T\d{6}Z\)$/)
    assert.ok(result.size > 128 * MiB, `size ${result.size}`)
    const { ref } = await vmByUuid(result.vm)
    const [big] = await xapi.call('VM.get_by_name_label', ['big']) as string[]
    assert.deepEqual(await disksOf(ref), await disksOf(big ?? ''), 'the halted VM is what its full backup holds')
    await destroyVm(ref)
    assert.deepEqual(await poolObjects(), objects)
  }) // prettier-ignore

  it('verifies TLS unless --allow-unauthorized: a self-signed pool is refused in one line, nothing made', { timeout: 120_000 }, async () => {
    const objects = await poolObjects()
    const run = await runCliProcess(restoreArgs(ids.get('web')?.[0] ?? ''), { env, timeoutMs: 120_000 })
    assert.equal(run.status, 1, `${run.stdout}${run.stderr}`)
    assert.ok(isOneErrorLine(run.stderr), run.stderr)
    assert.match(run.stderr, /cannot log in to https:/)
    assert.deepEqual(await poolObjects(), objects)
  }) // prettier-ignore

  it('Ctrl-C during the transfer: the restore stops and removes what it made', { timeout: 180_000 }, async () => {
    const objects = await poolObjects()
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...restoreArgs(ids.get('big')?.[0] ?? '', '--allow-unauthorized')], {
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let interrupted = false
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text
      // Interrupted once the transfer is under way (its start line is printed).
      if (!interrupted && / > transfer/.test(stdout)) {
        interrupted = true
        child.kill('SIGINT')
      }
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000)
    const status = await new Promise<number | null>((resolve) => child.once('close', resolve))
    clearTimeout(timer)
    assert.ok(interrupted, `the transfer started: ${stdout}`)
    assert.equal(status, 1, `${stdout}${stderr}`)
    assert.match(stderr, /interrupted: stopping the restore/)
    assert.match(stderr, /^error: .*interrupted by the user/m)
    assert.deepEqual(await poolObjects(), objects, 'nothing left on the pool')
  }) // prettier-ignore

  it('fails in one line: unknown backup, missing SR; usage errors exit 2 and connect nowhere', { timeout: 120_000 }, async () => {
    const web = ids.get('web')?.[0] ?? ''
    const absent = web.replace(/\/[^/]+\.json$/, '/20990101T000000Z.json')
    const checks: [string[], number, RegExp, Record<string, string | undefined>][] = [
      [restoreArgs(absent, '--allow-unauthorized'), 1, /no backup xo-vm-backups\/.*20990101T000000Z\.json in file:\/\/.*\(backups of this VM: /, env],
      [[...restoreArgs(web).slice(0, -1), '99999999-1111-4222-8333-444444444444', '--allow-unauthorized'], 1, /no SR with uuid 99999999-1111-4222-8333-444444444444 on https:/, env],
      [restoreArgs('xo-vm-backups/../x.json', '--allow-unauthorized'), 2, /invalid backup id "xo-vm-backups\/\.\.\/x\.json"/, env],
      [restoreArgs('xo-vm-backups/../../etc/passwd', '--allow-unauthorized'), 2, /invalid backup id/, env],
      [restoreArgs(web, '--password', 'hunter2-secret'), 2, /--password is refused; hint: use XAPI_PASSWORD=… or --password-file/, env],
      [restoreArgs(web), 2, /no XAPI password; hint: use XAPI_PASSWORD/, { XAPI_PASSWORD: undefined }],
      [[...restoreArgs(web).slice(0, 4), sim.url.replace('https://', 'https://root:hunter2-secret@'), ...restoreArgs(web).slice(5)], 2, /a password in the URL is refused/, env],
      [restoreArgs(web, '--map-disk', 'not-a-uuid=skip'), 2, /expected <vdi uuid>=<sr uuid> or <vdi uuid>=skip/, env],
      [restoreArgs(web).slice(0, -2), 2, /required option '--sr <sr-uuid>' not specified/, env],
    ] // prettier-ignore
    const objects = await poolObjects()
    for (const [args, code, message, variables] of checks) {
      const run: CliProcessRun = await runCliProcess(args, { env: variables, timeoutMs: 120_000 })
      assert.equal(run.status, code, `${args.join(' ')}: ${run.stdout}${run.stderr}`)
      assert.ok(isOneErrorLine(run.stderr), `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, message, args.join(' '))
      assert.ok(!`${run.stdout}${run.stderr}`.includes('hunter2-secret'), 'a password given on the command line is never shown')
    }
    assert.deepEqual(await poolObjects(), objects, 'nothing made on the pool')
  }) // prettier-ignore

  it('--password-file and --map-disk skip: one disk restored', { timeout: 120_000 }, async () => {
    const id = ids.get('web')?.at(-1) ?? ''
    const metadata = JSON.parse(await readFile(join(remote, id), 'utf8')) as { vhds: Record<string, string> }
    const dataDisk = Object.values(metadata.vhds).map((p) => p.split('/')[2] ?? '')
    const [web] = await xapi.call('VM.get_by_name_label', ['web']) as string[]
    const live = new Map<string, string>()
    for (const vbd of (await xapi.getRecord('VM', web ?? '')).VBDs) {
      const record = await xapi.getRecord('VBD', vbd)
      live.set((await xapi.getRecord('VDI', record.VDI)).uuid, record.userdevice)
    }
    const skipped = dataDisk.find((uuid) => live.get(uuid) === '1')
    assert.ok(skipped !== undefined, 'the data disk of web is in the backup')
    const run = await runCliProcess(
      [...restoreArgs(id, '--allow-unauthorized', '--json', '--password-file', join(dir, 'password'), '--map-disk', `${skipped}=skip`)],
      { env: { XAPI_PASSWORD: undefined }, timeoutMs: 120_000 },
    )
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`)
    const { vm } = JSON.parse(run.stdout) as { vm: string }
    const { ref } = await vmByUuid(vm)
    assert.deepEqual([...(await disksOf(ref)).keys()], ['0'], 'only the system disk')
    await destroyVm(ref)
  }) // prettier-ignore
})

describe('xapi-backup restore --help', () => {
  it('documents the options and never offers --password', async () => {
    const run = await cli('restore', '--help')
    assert.equal(run.code, 0)
    for (const option of ['--xapi', '--user', '--sr', '--allow-unauthorized', '--new-macs', '--map-disk', '--password-file', '--log', '--json'])
      assert.ok(run.out.includes(option), option)
    assert.ok(!/--password </.test(run.out), run.out)
  }) // prettier-ignore
})
