import { readFile } from 'node:fs/promises'
import process from 'node:process'
import type { Command } from 'commander'
import { InvalidArgumentError, Option } from 'commander'
import { isUuid } from '../shared/ids.ts'
import { formatBytes } from '../tasks/format.ts'
import { parseXapiUrl } from '../xapi/xapi-url.ts'
import { parseBackupId } from './backups.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'
import { onInterrupt } from './interrupt.ts'
import { openTaskView } from './task-view.ts'
import { formatRunSummary } from './live/index.ts'

interface RestoreOptions {
  readonly xapi: string
  readonly user: string
  readonly sr: string
  readonly allowUnauthorized?: boolean
  readonly newMacs?: boolean
  readonly mapDisk: readonly { readonly vdi: string; readonly sr: string | null }[]
  readonly passwordFile?: string
  readonly password?: string
  readonly log?: string
  readonly json?: boolean
}

/** The environment variable the XAPI password may come from. */
export const PASSWORD_ENV = 'XAPI_PASSWORD'

const PASSWORD_HINT = `use ${PASSWORD_ENV}=… or --password-file <file>: a password on the command line is seen by every user of the machine (ps, shell history)`

/** Commander's parser of `--map-disk <vdi-uuid>=<sr-uuid|skip>` (repeatable): a bad one is a usage error. */
function parseMapDisk(
  value: string,
  previous: readonly { vdi: string; sr: string | null }[] = [],
): { vdi: string; sr: string | null }[] {
  const [vdi = '', sr = '', ...rest] = value.split('=')
  if (rest.length > 0 || !isUuid(vdi) || (sr !== 'skip' && !isUuid(sr)))
    throw new InvalidArgumentError(
      `expected <vdi uuid>=<sr uuid> or <vdi uuid>=skip, got ${JSON.stringify(value)}`,
    )
  if (previous.some((m) => m.vdi === vdi.toLowerCase()))
    throw new InvalidArgumentError(`disk ${vdi} is mapped twice`)
  return [...previous, { vdi: vdi.toLowerCase(), sr: sr === 'skip' ? null : sr.toLowerCase() }]
}

/** Commander's parser of `--sr`: an SR uuid (lower-cased), else a usage error. */
export function parseSrOption(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError(`expected an SR uuid, got ${JSON.stringify(value)}`)
  return value.toLowerCase()
}

/** The XAPI password: from --password-file (first line) or XAPI_PASSWORD; never from argv (usage error with a hint). */
export async function readPassword(
  options: Pick<RestoreOptions, 'password' | 'xapi' | 'passwordFile'>,
): Promise<string> {
  if (options.password !== undefined) throw new CliExit(2, `--password is refused; hint: ${PASSWORD_HINT}`)
  if (parseXapiUrl(options.xapi).password !== undefined)
    throw new CliExit(2, `--xapi: a password in the URL is refused; hint: ${PASSWORD_HINT}`)
  if (options.passwordFile !== undefined) {
    const text = await readFile(options.passwordFile, 'utf8')
    const password = text.split(/\r?\n/)[0] ?? ''
    if (password === '') throw new CliExit(2, `--password-file ${options.passwordFile}: empty first line`)
    return password
  }
  const fromEnv = process.env[PASSWORD_ENV]
  if (fromEnv === undefined || fromEnv === '')
    throw new CliExit(2, `no XAPI password; hint: ${PASSWORD_HINT}`)
  return fromEnv
}

async function restoreAction(
  remoteUrl: string,
  backupId: string,
  options: RestoreOptions,
  io: CliIo,
): Promise<void> {
  // Checked before any I/O: a usage error writes nothing and connects nowhere.
  parseBackupId(backupId)
  const password = await readPassword(options)
  const { restoreFromRemote } = await import('../app/restore.ts')
  const view = await openTaskView(io, options)
  const { live, sink } = view
  const controller = new AbortController()
  const removeHandlers = onInterrupt(controller, io, 'stopping the restore and removing what it made')
  try {
    const outcome = await restoreFromRemote({
      remoteUrl,
      backupId,
      xapi: {
        url: options.xapi,
        user: options.user,
        password,
        allowUnauthorized: options.allowUnauthorized === true,
      },
      srUuid: options.sr,
      mapDisks: new Map(options.mapDisk.map((m) => [m.vdi, m.sr])),
      newMacAddresses: options.newMacs === true,
      sink,
      signal: controller.signal,
    })
    const summary = live.close()
    if (options.json === true) {
      io.out(
        `${JSON.stringify({ vm: outcome.vmUuid, name: outcome.nameLabel, size: outcome.sizeBytes, backupId: outcome.backupId })}\n`,
      )
      return
    }
    io.out(formatRunSummary(summary))
    io.out(
      `restored: VM ${outcome.vmUuid} ${JSON.stringify(outcome.nameLabel)} (${formatBytes(outcome.sizeBytes)}) from ${outcome.backupId}\n`,
    )
    if (options.log !== undefined) io.out(`task log: ${options.log}\n`)
  } finally {
    removeHandlers()
    await view.close()
  }
}

/** Registers `restore <remote-url> <backup-id>`: a backup of a remote restored as a new VM on an SR. */
export function registerRestoreCommand(program: Command, io: CliIo): void {
  program
    .command('restore')
    .description('restore a backup (full or delta) as a new VM on an SR of a pool')
    .argument('<remote-url>', 'remote: /absolute/path, file:///path, s3://…, nfs://…, smb://…')
    .argument('<backup-id>', 'xo-vm-backups/<vm uuid>/<timestamp>.json, as `backups list --json` gives it')
    .requiredOption('--xapi <url>', 'the pool master, https://host (no password in it)')
    .requiredOption('--user <name>', 'XAPI user; the password comes from XAPI_PASSWORD or --password-file')
    .requiredOption('--sr <sr-uuid>', 'the SR the VM is restored onto', parseSrOption)
    .option('--password-file <file>', 'read the XAPI password from the first line of this file')
    .option(
      '--allow-unauthorized',
      "accept any TLS certificate (XAPI's self-signed default); default: verified",
    )
    .option('--new-macs', 'give the VIFs new MAC addresses instead of the backed-up ones (delta backups)')
    .option(
      '--map-disk <vdi-uuid=sr-uuid|skip>',
      'put a disk on another SR, or leave it out (repeatable; delta backups)',
      parseMapDisk,
      [],
    )
    .option('--log <file>', 'also append the task log to this JSONL file (read it with `log show`)')
    .option('--json', 'print one JSON line {vm, name, size, backupId} instead of the task view')
    // Accepted only to be refused with a hint, never silently ignored nor reported as unknown.
    .addOption(new Option('--password <password>').hideHelp())
    .action(async (remoteUrl: string, backupId: string, options: RestoreOptions) => {
      await restoreAction(remoteUrl, backupId, options, io)
    })
}
