import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { serializeError } from '../shared/errors.ts'
import type { CliIo } from './io.ts'
import { CliExit, processIo } from './io.ts'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

/** Builds the `xapi-backup` command tree; each command file registers its own subcommands. */
export function createProgram(io: CliIo): Command {
  const program = new Command('xapi-backup')
    .description('Backup, replication and restore for Xen pools over XAPI')
    .version(pkg.version)
    .showHelpAfterError()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
  return program
}

/**
 * Runs the CLI on `argv` (as process.argv: node, script, args…) and resolves to the exit code:
 * 0 on success, the command's own code for a CliExit, 1 for any other error (printed without stack).
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = createProgram(io)
  try {
    await program.parseAsync(argv)
    return 0
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode
    if (error instanceof CliExit) {
      if (error.message !== '') io.err(`${error.message}\n`)
      return error.exitCode
    }
    const { name, message, code } = serializeError(error)
    io.err(`error: ${String(message)}${code === undefined ? '' : ` [${String(code)}]`} (${String(name)})\n`)
    return 1
  }
}
