import { Command, CommanderError } from 'commander'
import type { CliIo } from './io.ts'
import { readVersion } from './version.ts'
import { processIo } from './io.ts'
import { EXIT, formatCliError } from './error-line.ts'
import { commandLineSecrets, scrubbingIo } from './scrub-secrets.ts'
import { helpAfterText, welcomeText } from './welcome.ts'

type Register = (program: Command, io: CliIo) => void

// Each top-level command's module, loaded when that command runs (or for help, or to suggest a
// name): `vhd info` then loads only the VHD code, not the task log, repository or simulator code
// (start-up is mostly module loading; issue: start-up cost). In the order `--help` lists them.
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  run: async () => (await import('./run.ts')).registerRunCommand,
  restore: async () => (await import('./restore.ts')).registerRestoreCommand,
  'health-check': async () => (await import('./health-check.ts')).registerHealthCheckCommand,
  demo: async () => (await import('./demo.ts')).registerDemoCommand,
  log: async () => (await import('./log.ts')).registerLogCommands,
  backups: async () => (await import('./backups.ts')).registerBackupsCommands,
  remote: async () => (await import('./remote.ts')).registerRemoteCommands,
  vhd: async () => (await import('./vhd.ts')).registerVhdCommands,
  simulator: async () => (await import('./simulator.ts')).registerSimulatorCommand,
  serve: async () => (await import('./serve.ts')).registerServeCommand,
  token: async () => (await import('./serve.ts')).registerTokenCommands,
}

/**
 * Builds the `xapi-backup` command tree; each command file registers its own subcommands. With
 * `only` naming a top-level command, only that one is loaded and registered (what runCli does).
 */
export async function createProgram(io: CliIo, only?: string): Promise<Command> {
  const program = new Command('xapi-backup')
    .description('Backup, replication and restore for Xen pools over XAPI')
    .version(readVersion())
    // Usage errors are printed by runCli, as one line like every other error.
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => undefined })
    .exitOverride()
    .addHelpText('after', helpAfterText())
  const loaders = Object.entries(COMMANDS)
    .filter(([name]) => only === undefined || !Object.hasOwn(COMMANDS, only) || name === only)
    .map(([, load]) => load())
  for (const register of await Promise.all(loaders)) register(program, io)
  return program
}

/** The words of `args` that name commands (`backups list`), as deep as the tree goes. */
function commandPath(program: Command, args: readonly string[]): string {
  const names = [program.name()]
  let command = program
  for (const arg of args) {
    if (arg.startsWith('-')) continue
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg))
    if (sub === undefined) break
    names.push(sub.name())
    command = sub
  }
  return names.join(' ')
}

// Commander's messages start with `error: ` and may add `(Did you mean list?)` on a second line.
function usageLine(error: CommanderError, where: string): string {
  const [first = '', ...rest] = error.message.replace(/^error: /, '').split('\n')
  const suggestion = /\(Did you mean (.+)\?\)/.exec(rest.join(' '))?.[1]
  const hint = `${suggestion === undefined ? '' : `did you mean ${suggestion}? `}see '${where} --help'`
  return `error: ${first.trim()} (${where}) [USAGE]; hint: ${hint}`
}

/**
 * Runs the CLI on `argv` (as process.argv: node, script, args…) and resolves to the exit code:
 * 0 success, 1 failure or findings, 2 usage error (EXIT). Every error is printed as one line by
 * formatCliError; passwords of remote URLs given in `argv` never reach `io`.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const args = argv.slice(2)
  const safeIo = scrubbingIo(io, commandLineSecrets(args))
  if (args.length === 0) {
    safeIo.out(welcomeText(readVersion()))
    return EXIT.ok
  }
  // The first word that is not an option names the command (options only exist at the top level).
  const program = await createProgram(
    safeIo,
    args.find((arg) => !arg.startsWith('-')),
  )
  try {
    await program.parseAsync(argv)
    return EXIT.ok
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with 0; a group without its subcommand printed
      // its help (commander.help) and is a usage error like any other.
      if (error.exitCode === 0 && error.code !== 'commander.help') return EXIT.ok
      if (error.code !== 'commander.help') safeIo.err(`${usageLine(error, commandPath(program, args))}\n`)
      return EXIT.usage
    }
    const { line, exitCode } = formatCliError(error)
    if (line !== '') safeIo.err(`${line}\n`)
    return exitCode
  }
}
