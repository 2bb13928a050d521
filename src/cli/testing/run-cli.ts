import type { CliIo } from '../io.ts'
import { runCli } from '../program.ts'

/** What a CLI run printed and its exit code. */
export interface CliRun {
  readonly code: number
  readonly out: string
  readonly err: string
}

/** Runs `xapi-backup <args…>` in-process with captured output (tests of the commands). */
export async function cli(...args: string[]): Promise<CliRun> {
  let out = ''
  let err = ''
  const io: CliIo = {
    out: (text) => (out += text),
    err: (text) => (err += text),
  }
  const code = await runCli(['node', 'xapi-backup', ...args], io)
  return { code, out, err }
}
