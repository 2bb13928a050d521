// Child processes for benchmarks: run a command and time it, or keep a bench/children script running
// that does a job per request, times it itself and reports it (with its peak RSS) as a JSON line.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Sample } from './harness.ts'

const ROOT = new URL('..', import.meta.url).pathname
// USER_HZ: the unit of /proc/<pid>/stat times; 100 on every Linux architecture Node supports.
const CLOCK_TICKS_PER_SECOND = 100

/**
 * CPU seconds (user + system) of this process's terminated, waited-for children so far (Linux
 * /proc/self/stat cutime + cstime, 10 ms resolution); undefined elsewhere. The difference across one
 * spawn is that child's CPU time, provided no other child of ours ends meanwhile.
 */
export function childrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    // Fields after "(comm) ": state is field 3, so field n is at index n - 3 (cutime 16, cstime 17).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND
  } catch {
    return undefined
  }
}

/** What a finished child printed. */
export interface ChildOutput {
  readonly stdout: string
  readonly stderr: string
}

/** Runs `command` to completion; rejects, with its stderr, unless it exits with status 0. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], {
      cwd: ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr })
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} exited with ${String(code ?? signal)}: ${stderr.slice(-2000)}`,
          ),
        )
    })
  })
}

/** Runs `command` and returns its wall time (spawn to exit, as a user sees it) and its CPU time. */
export async function timeCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<Sample> {
  const cpuBefore = childrenCpuSeconds()
  const start = process.hrtime.bigint()
  await run(command, args, options)
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpuAfter = childrenCpuSeconds()
  return {
    seconds,
    ...(cpuBefore === undefined || cpuAfter === undefined ? {} : { cpuSeconds: cpuAfter - cpuBefore }),
  }
}

/** The line a bench/children script prints per job: its wall and CPU seconds, its peak RSS so far. */
export interface ChildReport {
  readonly seconds: number
  readonly cpuSeconds: number
  readonly peakRssBytes: number
  readonly bytes?: number
}

/** A long-lived `node --import tsx bench/children/<script>` doing one job per `request`. */
export interface ChildWorker {
  request(): Promise<ChildReport>
  close(): Promise<void>
}

/**
 * Starts `node --import tsx bench/children/<script> ...args`: each `request` writes a line to its
 * stdin and resolves with the JSON line it answers. One process serves every run of a side, so its
 * start-up (a second or more under tsx on a loaded machine) is paid once and is never timed; its
 * peak RSS is then the high-water mark over all its jobs so far.
 */
export function startChildWorker(
  script: string,
  args: readonly string[],
  env: Record<string, string> = {},
): ChildWorker {
  const child = spawn(process.execPath, ['--import', 'tsx', `bench/children/${script}`, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => {
      resolve()
    })
  })
  return {
    async request() {
      child.stdin.write('go\n')
      const next = await lines.next()
      if (next.done === true) throw new Error(`bench/children/${script} exited: ${stderr.slice(-2000)}`)
      const report = JSON.parse(next.value) as Partial<ChildReport>
      if (
        typeof report.seconds !== 'number' ||
        typeof report.cpuSeconds !== 'number' ||
        typeof report.peakRssBytes !== 'number'
      )
        throw new Error(
          `bench/children/${script} printed ${next.value}: expected {seconds, cpuSeconds, peakRssBytes}`,
        )
      return report as ChildReport
    },
    async close() {
      child.stdin.end()
      await exited
    },
  }
}

/**
 * The loop of a bench/children script: runs `job` (which returns the seconds of its timed part and
 * what it transferred) once per line on stdin, printing a ChildReport for each; returns at EOF.
 */
export async function serveJobs(job: () => Promise<{ seconds: number; bytes?: number }>): Promise<void> {
  for await (const _line of createInterface({ input: process.stdin })) {
    const cpu = process.cpuUsage()
    const { seconds, bytes } = await job()
    const used = process.cpuUsage(cpu)
    const report: ChildReport = {
      seconds,
      cpuSeconds: (used.user + used.system) / 1e6,
      // resourceUsage().maxRSS is in KiB on Linux.
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      ...(bytes === undefined ? {} : { bytes }),
    }
    console.log(JSON.stringify(report))
  }
}
