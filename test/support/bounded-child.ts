import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const preload = fileURLToPath(new URL('./max-rss-preload.mjs', import.meta.url))

/** What a bounded child run observed. */
export interface BoundedRun {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** Peak RSS of the child (bytes); undefined when it died before its exit handler ran. */
  readonly maxRssBytes: number | undefined
  readonly timedOut: boolean
}

/** Options of runBounded. */
export interface BoundedRunOptions {
  /** Killed (SIGKILL) after this long; the run reports `timedOut`. */
  readonly timeoutMs?: number
  readonly cwd?: string
  readonly env?: Record<string, string>
  /** V8 old-space cap (MiB) so that a runaway allocation dies quickly instead of swapping. */
  readonly maxOldSpaceMiB?: number
}

/**
 * Runs `node --import tsx <script> ...args` (script relative to the repository root, e.g.
 * 'src/cli/main.ts') in a child process and reports its exit, output, peak RSS and whether it had
 * to be killed: the harness for hostile-input tests that must prove bounded memory and time.
 */
export async function runBounded(
  script: string,
  args: readonly string[],
  options: BoundedRunOptions = {},
): Promise<BoundedRun> {
  const dir = await mkdtemp(join(tmpdir(), 'bounded-'))
  const rssFile = join(dir, 'rss')
  try {
    const child = spawn(
      process.execPath,
      [
        `--max-old-space-size=${options.maxOldSpaceMiB ?? 512}`,
        '--import',
        'tsx',
        '--import',
        preload,
        join(root, script),
        ...args,
      ],
      {
        cwd: options.cwd ?? root,
        env: { ...process.env, ...options.env, MAX_RSS_FILE: rssFile, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, options.timeoutMs ?? 60_000)
    const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (code, sig) => {
        resolve([code, sig])
      }),
    )
    clearTimeout(timer)
    const rss = await readFile(rssFile, 'utf8').catch(() => undefined)
    return {
      status,
      signal,
      stdout,
      stderr,
      maxRssBytes: rss === undefined ? undefined : Number(rss),
      timedOut,
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
