// Runs the real `xapi-backup` entry (src/cli/main.ts through tsx) in a child process, for the
// end-to-end CLI tests where the process matters: exit status, stderr, warnings, loaded modules.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const recorder = fileURLToPath(new URL('./cli-record-imports.mjs', import.meta.url))

/** What a CLI process did. */
export interface CliProcessRun {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
  readonly timedOut: boolean
}

/** Options of runCliProcess. */
export interface CliProcessOptions {
  /** Variables to set; `undefined` removes one from the inherited environment. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Records every module URL the process resolves into this file (cli-record-imports.mjs). */
  readonly recordImportsTo?: string
  readonly timeoutMs?: number
  readonly cwd?: string
}

/** Runs `xapi-backup <args…>` as a child process; killed after `timeoutMs` (default 60 s). */
export function runCliProcess(
  args: readonly string[],
  options: CliProcessOptions = {},
): Promise<CliProcessRun> {
  // The tests of other files set the SDK's variable to silence it: a CLI process must not need it.
  const overrides: Record<string, string | undefined> = {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: undefined,
    NO_COLOR: '1',
    ...options.env,
  }
  const env = Object.fromEntries(
    Object.entries({ ...process.env, ...overrides }).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    ),
  )
  const preload = options.recordImportsTo === undefined ? [] : ['--import', recorder]
  const child = spawn(process.execPath, ['--import', 'tsx', ...preload, main, ...args], {
    cwd: options.cwd ?? root,
    env:
      options.recordImportsTo === undefined ? env : { ...env, RECORD_IMPORTS_FILE: options.recordImportsTo },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, options.timeoutMs ?? 60_000)
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr, timedOut })
    })
  })
}

/** True when `text` is exactly one `error: …` line (the CLI's error contract). */
export function isOneErrorLine(text: string): boolean {
  return /^error: [^\n]+\n$/.test(text)
}
