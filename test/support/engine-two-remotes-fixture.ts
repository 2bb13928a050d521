// The world of test/integration/engine-two-remotes.test.ts: a simulator whose /export_raw_vdi
// handler records every request, s3rver behind a proxy that can cut uploads (engine-two-remotes-
// proxy.ts), run descriptions naming a local remote and an S3 remote, and the oracle: the sha256
// of every snapshot VDI the runs took, against which each backup on either remote is read back.
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chainToRaw } from '../../src/formats/vhd/conversions.ts'
import { VhdChain } from '../../src/formats/vhd/vhd-chain.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { startS3rver } from '../../src/remotes/testing/s3rver.ts'
import type { S3rverInstance } from '../../src/remotes/testing/s3rver.ts'
import { resolveInVmDir, vmDir } from '../../src/repository/layout.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { openRemoteFile } from '../../src/repository/remote-file.ts'
import type { Clock } from '../../src/shared/clock.ts'
import { systemClock } from '../../src/shared/clock.ts'
import { exportRawVdiHandler } from '../../src/simulator/http/export-raw-vdi.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription } from '../../src/simulator/pool/description.ts'
import { startCuttingProxy } from './engine-two-remotes-proxy.ts'
import type { CuttingProxy } from './engine-two-remotes-proxy.ts'

const MiB = 1024 * 1024
export const HOUR = 3_600_000
const SCHEDULE = 'c0ffee00-1111-4222-8333-444455556666'

const vm = (name: string, seed: number) => ({
  name,
  powerState: 'Running' as const,
  disks: [
    { name: `${name} system`, sizeBytes: 16 * MiB, content: { seed, allocatedFraction: 0.5 } },
    { name: `${name} data`, sizeBytes: 8 * MiB, content: { seed: seed + 1, allocatedFraction: 0.75 } },
  ],
  networks: ['net'],
})

/** VMs of two disks with content: one per case of the test. */
export const POOL: PoolDescription = {
  name: 'two remotes pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [{ name: 'Local', type: 'ext', sizeBytes: 1024 * MiB }],
  networks: [{ name: 'net', bridge: 'xenbr0' }],
  vms: [vm('alpha', 11), vm('beta', 21), vm('gamma', 31)],
}

/** One /export_raw_vdi request the simulator served. */
export interface ServedExport {
  /** The exported VDI's uuid. */
  readonly vdi: string
  /** The base VDI's uuid, for a delta export. */
  readonly base: string | undefined
}

/** Everything the test runs against; `close` stops it all and removes the temp directory. */
export interface TwoRemotesWorld {
  readonly dir: string
  readonly sim: RunningSimulator
  readonly s3: S3rverInstance
  readonly proxy: CuttingProxy
  /** The simulator's and the engine's clock: the system clock plus `offsetMs`. */
  readonly clock: Clock
  offsetMs: number
  readonly served: ServedExport[]
  vmUuid(name: string): string
  close(): Promise<void>
}

/** Starts s3rver, the proxy in front of it and the simulator (its exports recorded). */
export async function startTwoRemotesWorld(): Promise<TwoRemotesWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'two-remotes-'))
  await mkdir(join(dir, 'sim'))
  const s3 = await startS3rver('two-remotes')
  const proxy = await startCuttingProxy(s3.endpoint)
  const world = { offsetMs: 0 }
  const clock: Clock = {
    now: () => systemClock.now() + world.offsetMs,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  }
  const sim = await startSimulator({ pool: POOL, dataDir: join(dir, 'sim'), clock })
  const served: ServedExport[] = []
  const uuidOf = (value: string | null): string | undefined => {
    if (value === null) return undefined
    return value.startsWith('OpaqueRef:') ? (sim.db.get('VDI', value).uuid as string) : value
  }
  const handler = exportRawVdiHandler()
  sim.registerHttpHandler('/export_raw_vdi', (request, response, url, ctx) => {
    served.push({
      vdi: uuidOf(url.searchParams.get('vdi')) ?? '?',
      base: uuidOf(url.searchParams.get('base')),
    })
    return handler(request, response, url, ctx)
  })
  await writeFile(join(dir, 'password'), `${sim.password}\n`)
  return Object.assign(world, {
    dir,
    sim,
    s3,
    proxy,
    clock,
    served,
    vmUuid: (name: string) => sim.db.get('VM', sim.pool.vms.get(name) ?? '').uuid as string,
    async close() {
      await Promise.allSettled([sim.close(), proxy.close()])
      await s3.stop()
      await rm(dir, { recursive: true, force: true })
    },
  })
}

/**
 * The S3 URL of `prefix` in the world's bucket, through the proxy or straight to s3rver; with
 * `smallParts`, 1 MiB parts (s3rver accepts parts under S3's 5 MiB) so that a delta of a few MiB
 * is a multipart upload, else S3's 5 MiB and such a delta is one PUT.
 */
export function s3Url(
  world: TwoRemotesWorld,
  prefix: string,
  via: 'proxy' | 'direct',
  smallParts = true,
): string {
  const host = new URL(via === 'proxy' ? world.proxy.endpoint : world.s3.endpoint).host
  const options = smallParts ? `?minPartSize=${MiB}` : ''
  return `s3+http://${world.s3.accessKeyId}:${world.s3.secretAccessKey}@${host}/${world.s3.bucket}/${prefix}${options}`
}

/** Writes a delta job backing up `vmUuid` to remotes `nas` (local) and `s3`; returns its path. */
export async function writeJob(
  world: TwoRemotesWorld,
  name: string,
  job: { readonly id: string; readonly vmUuid: string; readonly localDir: string; readonly s3: string },
): Promise<string> {
  await mkdir(job.localDir, { recursive: true })
  const path = join(world.dir, `${name}.yaml`)
  await writeFile(
    path,
    [
      'job:',
      `  id: ${job.id}`,
      `  name: ${name}`,
      '  mode: delta',
      '  type: backup',
      '  remotes: { id: { __or: [nas, s3] } }',
      `  vms: { id: ${job.vmUuid} }`,
      '  settings:',
      "    '': { exportRetention: 2 }",
      'remotes:',
      `  nas: { url: "file://${job.localDir}" }`,
      `  s3: { url: "${job.s3}" }`,
      'schedule:',
      `  id: ${SCHEDULE}`,
      'xapis:',
      '  pool:',
      `    url: ${world.sim.url}`,
      '    credentials:',
      `      username: ${world.sim.username}`,
      '      password: { file: password }',
      '',
    ].join('\n'),
  )
  return path
}

/** The newest snapshot of VM `name`: its uuid and the sha256 of each of its disks by snapshot VDI uuid. */
export async function newestSnapshotDigests(
  world: TwoRemotesWorld,
  name: string,
): Promise<{ readonly uuid: string; readonly disks: Map<string, string> }> {
  const { sim } = world
  const time = (record: { snapshot_time?: unknown }): string =>
    typeof record.snapshot_time === 'string' ? record.snapshot_time : ''
  const snapshots = (sim.db.get('VM', sim.pool.vms.get(name) ?? '').snapshots as string[])
    .map((ref) => sim.db.get('VM', ref))
    .sort((a, b) => time(b).localeCompare(time(a)))
  const newest = snapshots[0]
  if (newest === undefined) throw new Error(`VM ${name} has no snapshot`)
  const disks = new Map<string, string>()
  for (const vbd of newest.VBDs as string[]) {
    const record = sim.db.get('VBD', vbd)
    if (record.type !== 'Disk') continue
    disks.set(
      sim.db.get('VDI', record.VDI as string).uuid as string,
      await sim.storage.digest(record.VDI as string),
    )
  }
  return { uuid: newest.uuid as string, disks }
}

async function sha256(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of chunks) hash.update(chunk)
  return hash.digest('hex')
}

/** One backup as read back: its timestamp, snapshot and, per disk, whether it is a delta. */
export interface ReadBackup {
  readonly timestampMs: number
  readonly snapshotUuid: string
  readonly differencing: readonly boolean[]
}

/**
 * Reads every backup of `vmUuid` on `remote` through its VHD chains (ranged reads on S3) and
 * checks each disk against `digests` (snapshot VDI uuid → sha256 of the snapshot's content):
 * throws naming the backup and disk when one differs, is unknown or is incomplete.
 */
export async function readBackAll(
  remote: Remote,
  vmUuid: string,
  digests: ReadonlyMap<string, string>,
  label: string,
): Promise<ReadBackup[]> {
  const { backups, invalid } = await listVmBackups(remote, vmUuid, { useCache: false })
  if (invalid.length > 0) throw new Error(`${label}: unreadable metadata ${JSON.stringify(invalid)}`)
  const read: ReadBackup[] = []
  for (const backup of backups) {
    const { metadata } = backup
    if (metadata.mode !== 'delta') throw new Error(`${label}: ${backup.id} is not a delta backup`)
    if (backup.missingFiles.length > 0)
      throw new Error(`${label}: ${backup.id} misses ${backup.missingFiles.join(', ')}`)
    const differencing: boolean[] = []
    for (const [ref, path] of Object.entries(metadata.vhds)) {
      const snapshotVdi = String(metadata.vdis[ref]?.uuid)
      const want = digests.get(snapshotVdi)
      if (want === undefined)
        throw new Error(
          `${label}: ${backup.id} disk ${ref}: snapshot VDI ${snapshotVdi} was never taken by this test`,
        )
      const chain = await VhdChain.open(resolveInVmDir(vmDir(vmUuid), path, 'vhds'), (p) =>
        openRemoteFile(remote, p),
      )
      try {
        const got = await sha256(chainToRaw(chain))
        if (got !== want)
          throw new Error(`${label}: ${backup.id} disk ${path} reads back ${got}, its snapshot is ${want}`)
      } finally {
        await chain.close()
      }
      differencing.push(metadata.isVhdDifferencing?.[ref] === true)
    }
    read.push({
      timestampMs: metadata.timestamp,
      snapshotUuid: String(metadata.vmSnapshot.uuid),
      differencing,
    })
  }
  return read
}
