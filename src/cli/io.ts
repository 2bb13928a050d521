/** Where a command writes: injected so tests can capture output without spawning a process. */
export interface CliIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

/** The process's stdout and stderr. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}

/** Error a command throws to end with a message and an exit code, without a stack trace. */
export class CliExit extends Error {
  readonly exitCode: number
  constructor(exitCode: number, message = '') {
    super(message)
    this.exitCode = exitCode
  }
}
