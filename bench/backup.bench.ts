// Backup benchmarks (issue 10): a backup job of a VM with one disk, half of its 2 MiB blocks
// allocated with incompressible bytes, from the XAPI simulator to a local remote, through the app's
// real path (runBackupFromFile in a child process: bench/children/backup-run.ts). Per run:
//   full   mode full: one XVA of the VM (GET /export) written to the remote, then removed;
//   dd     `dd if=/dev/zero of=<remote dir>/dd.bin bs=2M count=<allocated blocks> conv=fsync`:
//          the same bytes written to the same file system, with one fsync at the end like the local
//          remote's writes (publishFile: temp file, fsync, rename, directory fsync);
//   key    mode delta on an empty remote: the key (full) VHD of the disk;
//   drain  GET /export_raw_vdi?format=vhd of the live disk through HttpXapiClient, body discarded
//          (bench/children/export-drain.ts): what the source alone delivers, without the engine;
//   delta  after the guest rewrote BENCH_BACKUP_CHANGED (default 1%) of the disk's blocks (untimed;
//          allocated blocks rewritten in place, so the disk does not grow from run to run: see
//          bench/children/backup-simulator.ts), mode delta again: a differencing VHD of the changed
//          blocks over the key. The next run starts on an empty remote.
// The simulator runs in a process of its own (bench/children/backup-simulator.ts), its disk
// produced and written to its block file before the first run, so the backups read file bytes
// (from the page cache when it holds them); its memory is logged at the end (stderr), apart from
// the backup child's peak RSS, which the JSON gives per side (peakRssMiB: each side's child is
// kept for all runs, so its peak is the high-water mark over them).
// BENCH_BACKUP_SIZES: comma-separated disk sizes, one benchmark each (default "4GiB,16GiB"),
// e.g. BENCH_BACKUP_SIZES=256MiB npm run bench -- --runs 2 backup.
import { spawn } from 'node:child_process'
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Benchmark, Sample, Side } from './harness.ts'
import { startChildWorker, timeCommand } from './processes.ts'
import type { ChildWorker } from './processes.ts'

const ROOT = new URL('..', import.meta.url).pathname
const MiB = 2 ** 20
const GiB = 2 ** 30
const BLOCK_BYTES = 2 * MiB
const SIZES = (process.env.BENCH_BACKUP_SIZES ?? '4GiB,16GiB').split(',').map((s) => s.trim())
const CHANGED = Number(process.env.BENCH_BACKUP_CHANGED ?? 0.01)
const FULL_JOB = '0b5e3c1a-7d2f-4a8b-9c6e-1f2a3b4c5d6e'
const DELTA_JOB = '1c6f4d2b-8e3a-4b9c-8d7f-2a3b4c5d6e7f'
const SCHEDULE = '2d7a5e3c-9f4b-4cad-9e8a-3b4c5d6e7f80'

/** `256MiB`, `4GiB`, `16GiB` (a whole number of 2 MiB blocks) → bytes. */
export function parseSize(text: string): number {
  const match = /^(\d+)(MiB|GiB)$/.exec(text)
  const bytes = match === null ? NaN : Number(match[1]) * (match[2] === 'GiB' ? GiB : MiB)
  if (!(bytes > 0) || bytes % BLOCK_BYTES !== 0)
    throw new Error(
      `BENCH_BACKUP_SIZES: expected sizes like 256MiB or 4GiB (whole 2 MiB blocks), got ${JSON.stringify(text)}`,
    )
  return bytes
}

if (!(CHANGED > 0 && CHANGED < 1))
  throw new Error(`BENCH_BACKUP_CHANGED: expected a fraction between 0 and 1, got ${JSON.stringify(CHANGED)}`)

interface SimulatorInfo {
  readonly url: string
  readonly username: string
  readonly password: string
  readonly vmUuid: string
  readonly vdiRef: string
  readonly blocks: number
  readonly allocatedBlocks: number
}

interface SimulatorChild {
  readonly info: SimulatorInfo
  command<T>(command: Record<string, unknown>): Promise<T>
  close(): Promise<void>
}

/** Starts bench/children/backup-simulator.ts and waits for its ready line. */
async function startSimulatorChild(dataDir: string, sizeBytes: number): Promise<SimulatorChild> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/children/backup-simulator.ts', dataDir, String(sizeBytes), '1'],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  )
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => {
      resolve()
    })
  })
  // Writing to a child that died fails with EPIPE here; the next read reports it with its stderr.
  child.stdin.on('error', () => undefined)
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async <T>(): Promise<T> => {
    const line = await lines.next()
    if (line.done === true)
      throw new Error(`bench/children/backup-simulator.ts exited: ${stderr.slice(-2000)}`)
    return JSON.parse(line.value) as T
  }
  const info = await next<SimulatorInfo>()
  return {
    info,
    command<T>(command: Record<string, unknown>) {
      child.stdin.write(`${JSON.stringify(command)}\n`)
      return next<T>()
    },
    async close() {
      child.stdin.end()
      await exited
    },
  }
}

/** Bytes of the regular files under `dir` (0 when it does not exist). */
async function bytesUnder(dir: string): Promise<number> {
  let total = 0
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true })
  } catch {
    return 0
  }
  for (const entry of entries)
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size
  return total
}

function description(options: {
  id: string
  name: string
  mode: 'full' | 'delta'
  sim: SimulatorInfo
  remote: string
}): string {
  return [
    'job:',
    `  id: ${options.id}`,
    `  name: ${options.name}`,
    `  mode: ${options.mode}`,
    '  type: backup',
    '  remotes: { id: bench }',
    `  vms: { id: ${options.sim.vmUuid} }`,
    '  settings:',
    // Retention never deletes here (the bench empties the remote between runs): no merge is timed.
    "    '': { exportRetention: 10 }",
    'remotes:',
    `  bench: { url: "file://${options.remote}" }`,
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

const mib = (bytes: number): string => `${Math.round((bytes / MiB) * 10) / 10} MiB`

function backupBenchmark(label: string): Benchmark {
  const sizeBytes = parseSize(label)
  return {
    name: `backup.${label}`,
    async setup({ dir, log }) {
      const simDir = join(dir, 'simulator')
      const remote = join(dir, 'remote')
      const backups = join(remote, 'xo-vm-backups')
      await mkdir(simDir)
      await mkdir(remote)
      log(`backup.${label}: starting the simulator and writing its ${label} disk (50% allocated)`)
      const sim = await startSimulatorChild(simDir, sizeBytes)
      const workers: ChildWorker[] = []
      const closeAll = async (): Promise<void> => {
        for (const worker of workers) await worker.close()
        const stats = await sim.command<{
          rssBytes: number
          peakRssBytes: number
          cpuSeconds: number
          blockFileBytes: number
        }>({ op: 'stats' })
        log(
          `backup.${label}: simulator child (not part of any figure): peak RSS ${mib(stats.peakRssBytes)}, ` +
            `RSS now ${mib(stats.rssBytes)}, CPU ${stats.cpuSeconds.toFixed(1)} s in all, ` +
            `block file ${mib(stats.blockFileBytes)} on disk`,
        )
        await sim.close()
      }
      try {
        const { info } = sim
        const allocatedBytes = info.allocatedBlocks * BLOCK_BYTES
        await writeFile(join(dir, 'password'), `${info.password}\n`, { mode: 0o600 })
        const fullFile = join(dir, 'full.yaml')
        const deltaFile = join(dir, 'delta.yaml')
        await writeFile(
          fullFile,
          description({ id: FULL_JOB, name: 'bench-full', mode: 'full', sim: info, remote }),
        )
        await writeFile(
          deltaFile,
          description({ id: DELTA_JOB, name: 'bench-delta', mode: 'delta', sim: info, remote }),
        )
        const worker = (script: string, args: string[], env: Record<string, string> = {}): ChildWorker => {
          const started = startChildWorker(script, args, env)
          workers.push(started)
          return started
        }
        const fullWorker = worker('backup-run.ts', [fullFile])
        const keyWorker = worker('backup-run.ts', [deltaFile])
        const deltaWorker = worker('backup-run.ts', [deltaFile])
        const drainWorker = worker(
          'export-drain.ts',
          [info.url, '/export_raw_vdi', JSON.stringify({ vdi: info.vdiRef, format: 'vhd' })],
          { BENCH_XAPI_PASSWORD: info.password },
        )
        const work = { amount: allocatedBytes / MiB, unit: 'MiB' }
        const changedBlocks = Math.round(info.blocks * CHANGED)
        // A full or key backup must write at least the allocated bytes, a delta at most its changed
        // blocks plus metadata: a short or oversized backup fails the run instead of skewing it.
        const checkWritten = (what: string, written: number, min: number, max: number): void => {
          if (written < min || written > max)
            throw new Error(
              `backup.${label} ${what}: wrote ${written} bytes to the remote, expected ${min}–${max}`,
            )
        }
        const maxOverhead = (bytes: number): number => Math.ceil(bytes * 1.01) + 4 * MiB
        let lastKey: Sample | undefined
        let guestWrites = 0
        const backup = (options: {
          name: string
          child: ChildWorker
          check: (written: number) => void
          asRate?: boolean
          before?: () => Promise<void>
          after?: (sample: Sample) => void
        }): Side => ({
          name: options.name,
          ...(options.asRate === false ? { timeUnit: 's' as const } : { work }),
          async measure(): Promise<Sample> {
            await options.before?.()
            const report = await options.child.request()
            options.check(await bytesUnder(backups))
            const sample = {
              seconds: report.seconds,
              cpuSeconds: report.cpuSeconds,
              peakRssBytes: report.peakRssBytes,
            }
            options.after?.(sample)
            return sample
          },
        })
        const emptyRemote = (): Promise<void> => rm(backups, { recursive: true, force: true })
        const disk = `${label} disk, ${mib(allocatedBytes)} allocated (random bytes)`
        return {
          sides: {
            full: backup({
              name: `full backup (mode full, one XVA) of a ${disk}: runBackupFromFile in a child`,
              child: fullWorker,
              check: (written) => {
                checkWritten('full', written, allocatedBytes, maxOverhead(allocatedBytes))
              },
              before: emptyRemote,
            }),
            dd: {
              name:
                `dd if=/dev/zero bs=2M count=${info.allocatedBlocks} conv=fsync (${mib(allocatedBytes)}) into the remote's directory: ` +
                'one fsync at the end, as the local remote (temp file, fsync, rename, directory fsync)',
              work,
              async measure(): Promise<Sample> {
                await emptyRemote()
                const out = join(remote, 'dd.bin')
                const sample = await timeCommand('dd', [
                  'if=/dev/zero',
                  `of=${out}`,
                  'bs=2M',
                  `count=${info.allocatedBlocks}`,
                  'conv=fsync',
                  'status=none',
                ])
                await rm(out)
                return sample
              },
            },
            key: backup({
              name: `key backup (mode delta, empty remote: one full VHD) of a ${disk}: runBackupFromFile in a child`,
              child: keyWorker,
              check: (written) => {
                checkWritten('key', written, allocatedBytes, maxOverhead(allocatedBytes))
              },
              before: emptyRemote,
              after: (sample) => {
                lastKey = sample
              },
            }),
            keyTime: {
              name: 'key backup (the same measurement as key, as a time)',
              measure(): Promise<Sample> {
                if (lastKey === undefined) return Promise.reject(new Error('keyTime measured before key'))
                return Promise.resolve(lastKey)
              },
            },
            drain: {
              name: 'GET /export_raw_vdi?format=vhd of the live disk through HttpXapiClient, body discarded (the source alone)',
              work,
              async measure(): Promise<Sample> {
                const report = await drainWorker.request()
                if (report.bytes === undefined || report.bytes < allocatedBytes)
                  throw new Error(
                    `drain: received ${String(report.bytes)} bytes, expected ${allocatedBytes}+`,
                  )
                return report
              },
            },
            delta: backup({
              name: `delta backup after the guest rewrote ${changedBlocks} of ${info.blocks} blocks (${CHANGED * 100}%): runBackupFromFile in a child`,
              child: deltaWorker,
              asRate: false,
              check: (written) => {
                // The key is still there: the delta adds its changed blocks and metadata.
                const delta = changedBlocks * BLOCK_BYTES
                checkWritten('delta', written, allocatedBytes + delta, maxOverhead(allocatedBytes) + delta)
              },
              async before() {
                const rewritten = await sim.command<{ blocks: number; allocatedBlocks: number }>({
                  op: 'rewrite',
                  seed: ++guestWrites,
                  changedFraction: CHANGED,
                })
                if (rewritten.blocks !== changedBlocks || rewritten.allocatedBlocks !== info.allocatedBlocks)
                  throw new Error(
                    `the guest rewrote ${rewritten.blocks} blocks (${rewritten.allocatedBlocks} allocated), expected ${changedBlocks} (${info.allocatedBlocks})`,
                  )
              },
              after: () => {
                lastKey = undefined
              },
            }),
          },
          sequence: ['full', 'dd', 'key', 'keyTime', 'drain', 'delta'],
          figures: [
            { name: `backup.full-xva.${label}: throughput backup / dd`, subject: 'full', reference: 'dd' },
            { name: `backup.key-vhd.${label}: throughput backup / dd`, subject: 'key', reference: 'dd' },
            {
              name: `backup.key-vhd.${label}: throughput backup / export drain`,
              subject: 'key',
              reference: 'drain',
            },
            {
              name: `backup.delta-${CHANGED * 100}pct.${label}: time delta / key backup`,
              subject: 'delta',
              reference: 'keyTime',
            },
          ],
          async close() {
            await rm(backups, { recursive: true, force: true })
            await closeAll()
          },
        }
      } catch (error) {
        await closeAll()
        throw error
      }
    },
  }
}

export const benchmarks: Benchmark[] = SIZES.map(backupBenchmark)
