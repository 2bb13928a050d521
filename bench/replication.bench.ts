// Restore and replication benchmarks (issue 11). One VM with one disk, half of its 2 MiB blocks
// allocated with incompressible bytes, in the XAPI simulator, which runs in the bench process (it
// is idle except when a child talks to it: every timed side is a child process or dd).
//
// restore-chain.<size>: setup (untimed) builds a delta chain of CHAIN_LENGTH backups on a local
// remote (the key, then a delta after each guest write of CHAIN_CHANGED of the disk's blocks,
// rewritten in place: the disk stays 50% allocated) with runBackupFromFile, and records the sha256
// of the newest backup's snapshot disk. Per run:
//   restore  restoreBackup of the newest backup onto the simulator's SR, in a long-lived child
//            (bench/children/restore-run.ts): the 10 VHDs read from the remote as one disk and
//            streamed as one VHD to PUT /import_raw_vdi, plus the VM's records. The first restore
//            (the warm-up) is compared with the snapshot's sha256; every restored VM is removed
//            afterwards, untimed.
//   dd       `dd if=/dev/zero of=<simulator dir>/dd.bin bs=2M count=<allocated blocks> conv=fsync`:
//            the restored disk's allocated bytes (its data, what lands in the simulator's block
//            file) written to the same file system. The VHD stream the restore sends is those bytes
//            plus a 512-byte bitmap per block, the BAT and headers (+0.03%, logged), so either
//            count gives the same rate to 3 digits; the data is what both sides must write.
// cr-vs-dr.<size>: a CR job (mode delta, copyRetention 2) and a DR job (mode full, copyRetention 2)
// of the VM to a second SR (no remote), each runBackupFromFile in a long-lived child
// (bench/children/backup-run.ts). Setup runs CR once (the first replica, a full copy). Per run:
//   dr  a DR run: a new full replica (GET /export, PUT /import?sr_id=), the oldest beyond 2 removed;
//   cr  after a guest write of CR_CHANGED of the blocks (untimed, in place), a CR run: a delta of
//       the changed blocks imported into the replica (PUT /import_raw_vdi), a replica snapshot kept.
//   The newest replica of each job is compared once (first run) with the source disk.
// `sync` runs (untimed) before every side, so neither side inherits the other's dirty pages.
// The simulator writes its block file without fsync (its page cache), where dd fsyncs: see
// BENCHMARKS.md. Peak RSS in the JSON is the child's (restore, CR, DR), a high-water mark over its runs;
// the bench process's CPU during each side's job (the simulator's share of it) is logged at the end.
// BENCH_REPLICATION_SIZES: comma-separated disk sizes, both benchmarks each (default "1GiB"),
// e.g. BENCH_REPLICATION_SIZES=256MiB npm run bench -- --runs 2 restore-chain cr-vs-dr.
import { randomFillSync } from 'node:crypto'
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runBackupFromFile } from '../src/app/run-backup.ts'
import { destroyVmWithDisks } from '../src/engine/restore/destroy-vm.ts'
import { openLocalRemote } from '../src/remotes/local/local-remote.ts'
import { listVmBackups } from '../src/repository/listing.ts'
import type { Clock } from '../src/shared/clock.ts'
import { systemClock } from '../src/shared/clock.ts'
import { startSimulator } from '../src/simulator/index.ts'
import type { PoolDescription, RunningSimulator } from '../src/simulator/index.ts'
import { selectBlocks } from '../src/simulator/storage/block-content.ts'
import { MemorySink } from '../src/tasks/sinks/memory-sink.ts'
import { HttpXapiClient } from '../src/xapi/http-xapi-client.ts'
import type { Benchmark, Sample, Side } from './harness.ts'
import { run, startChildWorker, timeCommand } from './processes.ts'
import type { ChildReport, ChildWorker } from './processes.ts'
import { summarize } from './stats.ts'

const MiB = 2 ** 20
const GiB = 2 ** 30
const BLOCK_BYTES = 2 * MiB
const HOUR = 3_600_000
const SIZES = (process.env.BENCH_REPLICATION_SIZES ?? '1GiB').split(',').map((s) => s.trim())
const CHAIN_LENGTH = 10
const CHAIN_CHANGED = 0.05
const CR_CHANGED = 0.01
const CHAIN_JOB = '3e8b6f4d-0a5c-4d1e-9f2a-4c5d6e7f8091'
const CR_JOB = '4f9c7a5e-1b6d-4e2f-8a3b-5d6e7f8091a2'
const DR_JOB = '5a0d8b6f-2c7e-4f3a-9b4c-6e7f8091a2b3'
const SCHEDULE = '6b1e9c7a-3d8f-4a4b-8c5d-7f8091a2b3c4'
const RESTORED_TAG = 'restored from backup'

/** `256MiB`, `1GiB` (a whole number of 2 MiB blocks) → bytes. */
function parseSize(text: string): number {
  const match = /^(\d+)(MiB|GiB)$/.exec(text)
  const bytes = match === null ? NaN : Number(match[1]) * (match[2] === 'GiB' ? GiB : MiB)
  if (!(bytes > 0) || bytes % BLOCK_BYTES !== 0)
    throw new Error(
      `BENCH_REPLICATION_SIZES: expected sizes like 256MiB or 1GiB (whole 2 MiB blocks), got ${JSON.stringify(text)}`,
    )
  return bytes
}

const mib = (bytes: number): string => `${Math.round((bytes / MiB) * 10) / 10} MiB`

function pool(sizeBytes: number): PoolDescription {
  return {
    name: 'bench pool',
    hosts: [{ name: 'bench-host', address: '127.0.0.1' }],
    // Thin and large: space is never what a run waits on or fails for.
    srs: [
      { name: 'Local', type: 'ext', sizeBytes: 4 * 2 ** 40 },
      { name: 'Replicas', type: 'ext', sizeBytes: 4 * 2 ** 40 },
    ],
    networks: [{ name: 'net', bridge: 'xenbr0' }],
    vms: [
      {
        name: 'bench-vm',
        powerState: 'Running',
        disks: [{ name: 'bench disk', sizeBytes, sr: 'Local', content: { seed: 1, allocatedFraction: 0.5 } }],
        networks: ['net'],
      },
    ],
  }
}

/** The simulator of one benchmark, its VM and disk, and a guest write that keeps the allocation. */
interface BenchSimulator {
  readonly sim: RunningSimulator
  readonly vmRef: string
  readonly vmUuid: string
  readonly vdiRef: string
  readonly blocks: number
  readonly allocatedBlocks: number
  srRef(name: string): string
  srUuid(name: string): string
  /**
   * The guest rewrites round(fraction × blocks) of the disk's allocated blocks in place with random
   * bytes (storage.writeBlocks: a guest write, CBT follows). Not sim.guestWrite, which picks among
   * all blocks: half of its writes would allocate new ones, so the disk, and the work of every
   * later full copy, would grow from run to run while the reference's stays the same.
   */
  rewrite(fraction: number, seed: number): void
  /** sha256 of the first disk of VM `vmRef`. */
  diskDigest(vmRef: string): Promise<string>
  close(): Promise<void>
}

function firstDiskVdi(sim: RunningSimulator, vmRef: string): string {
  const vbd = (sim.db.get('VM', vmRef).VBDs as string[])
    .map((ref) => sim.db.get('VBD', ref))
    .filter((r) => r.type === 'Disk')
    .sort((a, b) => Number(a.userdevice) - Number(b.userdevice))[0]
  if (vbd === undefined) throw new Error(`VM ${vmRef}: no disk`)
  return vbd.VDI as string
}

async function startBenchSimulator(
  dataDir: string,
  sizeBytes: number,
  clock?: Clock,
): Promise<BenchSimulator> {
  const sim = await startSimulator({
    pool: pool(sizeBytes),
    dataDir,
    ...(clock === undefined ? {} : { clock }),
  })
  try {
    const vmRef = sim.pool.vms.get('bench-vm') ?? ''
    const vdiRef = firstDiskVdi(sim, vmRef)
    // The disk's bytes produced and written to the block file now: runs read file bytes.
    sim.storage.materialize()
    const blocks = sizeBytes / BLOCK_BYTES
    const allocatedBlocks = sim.storage.source(vdiRef).blockIndexes.length
    const srRef = (name: string): string => sim.pool.srs.get(name) ?? ''
    return {
      sim,
      vmRef,
      vmUuid: sim.db.get('VM', vmRef).uuid as string,
      vdiRef,
      blocks,
      allocatedBlocks,
      srRef,
      srUuid: (name) => sim.db.get('SR', srRef(name)).uuid as string,
      rewrite(fraction, seed) {
        const allocated = sim.storage.source(vdiRef).blockIndexes
        const count = Math.round(fraction * blocks)
        const chosen = selectBlocks(allocated.length, count, seed).map((k) => allocated[k] as number)
        sim.storage.writeBlocks(
          vdiRef,
          chosen.map((index) => ({
            offsetBytes: index * BLOCK_BYTES,
            data: randomFillSync(Buffer.allocUnsafe(BLOCK_BYTES)),
          })),
        )
        const after = sim.storage.source(vdiRef).blockIndexes.length
        if (chosen.length !== count || after !== allocatedBlocks)
          throw new Error(
            `the guest rewrote ${chosen.length} blocks (${after} allocated), expected ${count} (${allocatedBlocks})`,
          )
      },
      diskDigest: (ref) => sim.storage.digest(firstDiskVdi(sim, ref)),
      close: () => sim.close(),
    }
  } catch (error) {
    await sim.close()
    throw error
  }
}

function description(options: {
  id: string
  name: string
  mode: 'full' | 'delta'
  vmUuid: string
  sim: RunningSimulator
  settings: string
  remote?: string
  srUuid?: string
}): string {
  return [
    'job:',
    `  id: ${options.id}`,
    `  name: ${options.name}`,
    `  mode: ${options.mode}`,
    '  type: backup',
    ...(options.remote === undefined ? [] : ['  remotes: { id: bench }']),
    ...(options.srUuid === undefined ? [] : [`  srs: { id: ${options.srUuid} }`]),
    `  vms: { id: ${options.vmUuid} }`,
    '  settings:',
    `    '': ${options.settings}`,
    ...(options.remote === undefined ? [] : ['remotes:', `  bench: { url: "file://${options.remote}" }`]),
    'schedule:',
    `  id: ${SCHEDULE}`,
    'xapis:',
    '  pool:',
    `    url: ${options.sim.url}`,
    '    credentials:',
    `      username: ${options.sim.username}`,
    '      password: { file: password }',
    '',
  ].join('\n')
}

/** Runs a job in this process (setup, untimed); fails unless every VM succeeded. */
async function runJobHere(file: string, clock?: Clock): Promise<void> {
  const result = await runBackupFromFile(file, {
    sink: new MemorySink(),
    ...(clock === undefined ? {} : { clock }),
  })
  const failed = result.vms.filter((vm) => vm.status !== 'success')
  if (result.vms.length === 0 || failed.length > 0)
    throw new Error(
      `${file}: expected every VM backed up, got ${JSON.stringify(result.vms.map((vm) => [vm.uuid, vm.status]))}`,
    )
}

/** Bytes of the regular files under `dir`. */
async function bytesUnder(dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size
  return total
}

/**
 * The CPU seconds this process (the simulator: it does nothing else meanwhile) spends while `child`
 * does one job, kept per side and logged at the end: the simulator's share of a side's work.
 */
class SimulatorCpu {
  readonly #seconds = new Map<string, number[]>()

  async during(side: string, child: ChildWorker): Promise<ChildReport> {
    const before = process.cpuUsage()
    const report = await child.request()
    const used = process.cpuUsage(before)
    const list = this.#seconds.get(side) ?? []
    list.push((used.user + used.system) / 1e6)
    this.#seconds.set(side, list)
    return report
  }

  /** `side: min/median/max s` per side (warm-up included). */
  describe(): string {
    return [...this.#seconds]
      .map(([side, values]) => {
        const { min, median, max } = summarize(values)
        return `${side} ${min}/${median}/${max} s`
      })
      .join(', ')
  }
}

const sampleOf = (report: ChildReport): Sample => ({
  seconds: report.seconds,
  cpuSeconds: report.cpuSeconds,
  peakRssBytes: report.peakRssBytes,
})

// Dirty pages one side left (the simulator's block file, dd's file) are written out before the next.
const syncDisks = async (): Promise<void> => {
  await run('sync', [])
}

/** The newest snapshot of `vmRef` (by snapshot_time). */
function newestSnapshot(sim: RunningSimulator, vmRef: string): string {
  const time = (ref: string): string => {
    const value = sim.db.get('VM', ref).snapshot_time
    return typeof value === 'string' ? value : ''
  }
  const newest = [...(sim.db.get('VM', vmRef).snapshots as string[])].sort((a, b) =>
    time(b).localeCompare(time(a)),
  )[0]
  if (newest === undefined) throw new Error(`VM ${vmRef}: no snapshot after the delta runs`)
  return newest
}

function restoreChainBenchmark(label: string): Benchmark {
  const sizeBytes = parseSize(label)
  const name = `restore-chain.${label}`
  return {
    name,
    async setup({ dir, log }) {
      const simDir = join(dir, 'simulator')
      const remoteDir = join(dir, 'remote')
      await mkdir(simDir)
      await mkdir(remoteDir)
      // Each backup of the chain an hour after the previous one (the engine's and the simulator's
      // clock): backups are named to the second, and a 5% delta can take less than one.
      let offsetMs = 0
      const clock: Clock = {
        now: () => systemClock.now() + offsetMs,
        sleep: (ms, signal) => systemClock.sleep(ms, signal),
      }
      log(`${name}: starting the simulator and writing its ${label} disk (50% allocated)`)
      const bench = await startBenchSimulator(simDir, sizeBytes, clock)
      const { sim } = bench
      const xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
      let worker: ChildWorker | undefined
      const simulatorCpu = new SimulatorCpu()
      const closeAll = async (): Promise<void> => {
        await worker?.close()
        await xapi.disconnect().catch(() => undefined)
        const cpu = process.cpuUsage()
        log(
          `${name}: bench process with the simulator (not part of any figure): peak RSS ` +
            `${mib(process.resourceUsage().maxRSS * 1024)}, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s since it started; ` +
            `its CPU during each side's job (min/median/max, warm-up included): ${simulatorCpu.describe()}`,
        )
        await bench.close()
      }
      try {
        await xapi.connect()
        await writeFile(join(dir, 'password'), `${sim.password}\n`, { mode: 0o600 })
        const file = join(dir, 'chain.yaml')
        await writeFile(
          file,
          description({
            id: CHAIN_JOB,
            name: 'bench-chain',
            mode: 'delta',
            vmUuid: bench.vmUuid,
            sim,
            // Every backup kept (no merge), no forced key: one key and CHAIN_LENGTH - 1 deltas.
            settings: `{ exportRetention: ${CHAIN_LENGTH + 5}, fullInterval: 0 }`,
            remote: remoteDir,
          }),
        )
        for (let n = 1; n <= CHAIN_LENGTH; n++) {
          if (n > 1) bench.rewrite(CHAIN_CHANGED, 100 + n)
          offsetMs += HOUR
          const start = process.hrtime.bigint()
          await runJobHere(file, clock)
          log(
            `${name}: chain backup ${n}/${CHAIN_LENGTH} in ${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(1)} s`,
          )
        }
        const remote = await openLocalRemote(remoteDir)
        const { backups } = await listVmBackups(remote, bench.vmUuid, { useCache: false })
        const shapes = backups.map((b) =>
          b.metadata.mode === 'delta' && Object.values(b.metadata.isVhdDifferencing ?? {}).some(Boolean)
            ? 'delta'
            : b.metadata.mode === 'delta'
              ? 'key'
              : 'full',
        )
        const want = ['key', ...Array<string>(CHAIN_LENGTH - 1).fill('delta')]
        if (shapes.join() !== want.join())
          throw new Error(
            `${name}: expected a chain ${want.join(',')} on the remote, got ${shapes.join(',')}`,
          )
        // What the newest backup holds: its snapshot's disk (the guest has not written since).
        const snapshotVdi = firstDiskVdi(sim, newestSnapshot(sim, bench.vmRef))
        const expected = await sim.storage.digest(snapshotVdi)
        const allocatedBlocks = sim.storage.source(snapshotVdi).blockIndexes.length
        const allocatedBytes = allocatedBlocks * BLOCK_BYTES
        log(
          `${name}: chain of ${backups.length} backups, ${mib(await bytesUnder(remoteDir))} on the remote; ` +
            `the newest restores ${mib(allocatedBytes)} of data`,
        )
        worker = startChildWorker(
          'restore-run.ts',
          [sim.url, sim.username, remoteDir, bench.vmUuid, bench.srUuid('Local')],
          { BENCH_XAPI_PASSWORD: sim.password },
        )
        const restoreWorker = worker
        const work = { amount: allocatedBytes / MiB, unit: 'MiB' }
        let verified = false
        let streamBytes: number | undefined
        const restore: Side = {
          name:
            `restoreBackup of the newest of ${CHAIN_LENGTH} delta backups (a key and ${CHAIN_LENGTH - 1} deltas of ` +
            `${CHAIN_CHANGED * 100}% of the blocks) of a ${label} disk, ${mib(allocatedBytes)} of data, ` +
            'from a local remote to a new VDI on the simulator (one VHD stream to PUT /import_raw_vdi), in a child',
          work,
          async measure(): Promise<Sample> {
            await syncDisks()
            const report = await simulatorCpu.during('restore', restoreWorker)
            if (report.bytes === undefined || report.bytes < allocatedBytes)
              throw new Error(
                `${name}: the restore sent ${String(report.bytes)} bytes, expected ${allocatedBytes}+`,
              )
            const restored = sim.db.select(
              'VM',
              (r) => r.is_a_snapshot !== true && (r.tags as string[]).includes(RESTORED_TAG),
            )
            if (restored.length !== 1 || restored[0] === undefined)
              throw new Error(`${name}: expected one restored VM on the pool, found ${restored.length}`)
            if (!verified) {
              const got = await bench.diskDigest(restored[0])
              if (got !== expected)
                throw new Error(`${name}: the restored disk's sha256 is ${got}, the snapshot's ${expected}`)
              verified = true
              log(
                `${name}: the restored disk equals the newest backup's snapshot (sha256 ${expected.slice(0, 16)}…)`,
              )
            }
            if (streamBytes === undefined) {
              streamBytes = report.bytes
              log(
                `${name}: VHD stream ${report.bytes} bytes = data × ${(report.bytes / allocatedBytes).toFixed(5)}`,
              )
            }
            const left = await destroyVmWithDisks(xapi, restored[0])
            if (left.length > 0) throw new Error(`${name}: the restored VM left ${JSON.stringify(left)}`)
            return sampleOf(report)
          },
        }
        const dd: Side = {
          name:
            `dd if=/dev/zero bs=2M count=${allocatedBlocks} conv=fsync (${mib(allocatedBytes)}, the restored data) ` +
            "into the simulator's directory: one fsync at the end",
          work,
          async measure(): Promise<Sample> {
            await syncDisks()
            const out = join(simDir, 'dd.bin')
            const sample = await timeCommand('dd', [
              'if=/dev/zero',
              `of=${out}`,
              'bs=2M',
              `count=${allocatedBlocks}`,
              'conv=fsync',
              'status=none',
            ])
            await rm(out)
            return sample
          },
        }
        return {
          sides: { dd, restore },
          sequence: ['dd', 'restore'],
          figures: [
            {
              name: `restore-chain.${CHAIN_LENGTH}.${label}: throughput restore / dd`,
              subject: 'restore',
              reference: 'dd',
            },
          ],
          close: closeAll,
        }
      } catch (error) {
        await closeAll()
        throw error
      }
    },
  }
}

/** Complete replicas of `jobId` on `srUuid` (live VMs, not their snapshots), newest first. */
function replicasOf(sim: RunningSimulator, jobId: string, srUuid: string): string[] {
  const other = (ref: string): Record<string, string> =>
    sim.db.get('VM', ref).other_config as Record<string, string>
  return sim.db
    .select(
      'VM',
      (r) =>
        r.is_a_snapshot !== true &&
        (r.other_config as Record<string, string>)['xo:backup:job'] === jobId &&
        (r.other_config as Record<string, string>)['xo:backup:sr'] === srUuid,
    )
    .sort((a, b) =>
      (other(b)['xo:backup:datetime'] ?? '').localeCompare(other(a)['xo:backup:datetime'] ?? ''),
    )
}

function crVsDrBenchmark(label: string): Benchmark {
  const sizeBytes = parseSize(label)
  const name = `cr-vs-dr.${label}`
  return {
    name,
    async setup({ dir, log }) {
      const simDir = join(dir, 'simulator')
      await mkdir(simDir)
      log(`${name}: starting the simulator and writing its ${label} disk (50% allocated)`)
      const bench = await startBenchSimulator(simDir, sizeBytes)
      const { sim } = bench
      const workers: ChildWorker[] = []
      const simulatorCpu = new SimulatorCpu()
      const closeAll = async (): Promise<void> => {
        for (const worker of workers) await worker.close()
        const cpu = process.cpuUsage()
        log(
          `${name}: bench process with the simulator (not part of any figure): peak RSS ` +
            `${mib(process.resourceUsage().maxRSS * 1024)}, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s since it started; ` +
            `its CPU during each side's job (min/median/max, warm-up included): ${simulatorCpu.describe()}`,
        )
        await bench.close()
      }
      try {
        await writeFile(join(dir, 'password'), `${sim.password}\n`, { mode: 0o600 })
        const replicaSr = bench.srUuid('Replicas')
        const files = { cr: join(dir, 'cr.yaml'), dr: join(dir, 'dr.yaml') }
        const job = (id: string, jobName: string, mode: 'full' | 'delta'): string =>
          description({
            id,
            name: jobName,
            mode,
            vmUuid: bench.vmUuid,
            sim,
            settings: '{ copyRetention: 2 }',
            srUuid: replicaSr,
          })
        await writeFile(files.cr, job(CR_JOB, 'bench-cr', 'delta'))
        await writeFile(files.dr, job(DR_JOB, 'bench-dr', 'full'))
        const allocatedBytes = bench.allocatedBlocks * BLOCK_BYTES
        log(`${name}: first CR run (the first replica: a full copy of ${mib(allocatedBytes)}), untimed`)
        await runJobHere(files.cr)
        if (replicasOf(sim, CR_JOB, replicaSr).length !== 1)
          throw new Error(`${name}: expected one CR replica after the first CR run`)
        const crWorker = startChildWorker('backup-run.ts', [files.cr])
        const drWorker = startChildWorker('backup-run.ts', [files.dr])
        workers.push(crWorker, drWorker)
        const changedBlocks = Math.round(bench.blocks * CR_CHANGED)
        if (changedBlocks === 0)
          throw new Error(
            `${name}: ${CR_CHANGED * 100}% of ${bench.blocks} blocks rounds to none: expected a disk of ${Math.ceil(0.5 / CR_CHANGED) * 2} MiB or more`,
          )
        const verified = new Set<string>()
        // The newest replica of the job holds the source disk as it is now (the guest writes only
        // before a CR run): compared once per job.
        const check = async (jobId: string, what: string, max: number): Promise<void> => {
          const replicas = replicasOf(sim, jobId, replicaSr)
          if (replicas.length < 1 || replicas.length > max || replicas[0] === undefined)
            throw new Error(
              `${name}: ${what}: expected 1–${max} replicas on the SR, found ${replicas.length}`,
            )
          if (verified.has(jobId)) return
          const [got, want] = await Promise.all([
            bench.diskDigest(replicas[0]),
            bench.diskDigest(bench.vmRef),
          ])
          if (got !== want)
            throw new Error(`${name}: ${what}: the replica's disk sha256 is ${got}, the source's ${want}`)
          verified.add(jobId)
          log(
            `${name}: ${what}: the newest replica's disk equals the source's (sha256 ${want.slice(0, 16)}…)`,
          )
        }
        let guestWrites = 0
        const dr: Side = {
          name: `DR run (mode full, copyRetention 2): a full replica of a ${label} disk, ${mib(allocatedBytes)} of data, XVA export imported onto the second SR: runBackupFromFile in a child`,
          timeUnit: 's',
          async measure(): Promise<Sample> {
            await syncDisks()
            const report = await simulatorCpu.during('DR', drWorker)
            await check(DR_JOB, 'DR', 2)
            return sampleOf(report)
          },
        }
        const cr: Side = {
          name: `CR run (mode delta, copyRetention 2) after the guest rewrote ${changedBlocks} of ${bench.blocks} blocks (${CR_CHANGED * 100}%): the delta imported into the replica: runBackupFromFile in a child`,
          timeUnit: 's',
          async measure(): Promise<Sample> {
            bench.rewrite(CR_CHANGED, 1000 + ++guestWrites)
            await syncDisks()
            const report = await simulatorCpu.during('CR', crWorker)
            // One replica VM, updated in place; its snapshots (copyRetention) are not live VMs.
            await check(CR_JOB, 'CR', 1)
            return sampleOf(report)
          },
        }
        return {
          sides: { dr, cr },
          sequence: ['dr', 'cr'],
          figures: [
            {
              name: `cr-vs-dr.${CR_CHANGED * 100}pct.${label}: time CR run / DR run`,
              subject: 'cr',
              reference: 'dr',
            },
          ],
          close: closeAll,
        }
      } catch (error) {
        await closeAll()
        throw error
      }
    },
  }
}

export const benchmarks: Benchmark[] = SIZES.flatMap((label) => [
  restoreChainBenchmark(label),
  crVsDrBenchmark(label),
])
