import { readFileSync } from 'node:fs'
import { Command, CommanderError } from 'commander'
import { serializeError } from '../shared/errors.ts'
import { jsonText } from '../tasks/format.ts'
import type { CliIo } from './io.ts'
import { CliExit, processIo } from './io.ts'
import { registerBackupsCommands } from './backups.ts'
import { registerLogCommands } from './log.ts'
import { registerRemoteCommands } from './remote.ts'
import { registerVhdCommands } from './vhd.ts'
import { registerSimulatorCommand } from './simulator.ts'

/** The package's version, read from package.json two levels up in src/ and three in dist/src/. */
function readVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string
        version?: string
      }
      if (pkg.name === 'xapi-backup' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // not at this level: try the next one
    }
  }
  return 'unknown'
}

/** Builds the `xapi-backup` command tree; each command file registers its own subcommands. */
export function createProgram(io: CliIo): Command {
  const program = new Command('xapi-backup')
    .description('Backup, replication and restore for Xen pools over XAPI')
    .version(readVersion())
    .showHelpAfterError()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride()
  registerLogCommands(program, io)
  registerBackupsCommands(program, io)
  registerRemoteCommands(program, io)
  registerVhdCommands(program, io)
  registerSimulatorCommand(program, io)
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
    const { message, code, cause } = serializeError(error)
    const because =
      typeof cause === 'object' && cause !== null && 'message' in cause ? `: ${jsonText(cause.message)}` : ''
    io.err(`error: ${jsonText(message)}${because}${code === undefined ? '' : ` [${jsonText(code)}]`}\n`)
    return 1
  }
}
