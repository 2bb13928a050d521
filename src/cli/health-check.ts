import type { Command } from 'commander'
import { InvalidArgumentError, Option } from 'commander'
import { parseDuration } from '../engine/duration.ts'
import { parseBackupId } from './backups.ts'
import type { CliIo } from './io.ts'
import { formatRunSummary } from './live/index.ts'
import { onInterrupt } from './interrupt.ts'
import { openTaskView } from './task-view.ts'
import { parseSrOption, readPassword } from './restore.ts'

interface HealthCheckOptions {
  readonly xapi: string
  readonly user: string
  readonly sr: string
  readonly timeout?: number
  readonly allowUnauthorized?: boolean
  readonly passwordFile?: string
  readonly password?: string
  readonly log?: string
  readonly json?: boolean
}

/** Commander's parser of `--timeout` (`90s`, `10m`, or milliseconds): a usage error otherwise. */
function parseTimeout(value: string): number {
  try {
    const ms = parseDuration(/^\d+$/.test(value) ? Number(value) : value, ['--timeout'])
    if (ms > 0) return ms
  } catch {
    // reported below, in the command's words
  }
  throw new InvalidArgumentError(`expected a duration such as 90s or 10m, got ${JSON.stringify(value)}`)
}

async function healthCheckAction(
  remoteUrl: string,
  backupId: string,
  options: HealthCheckOptions,
  io: CliIo,
): Promise<void> {
  parseBackupId(backupId)
  const password = await readPassword(options)
  const { healthCheckFromRemote } = await import('../app/health-check.ts')
  const view = await openTaskView(io, options)
  const { live, sink } = view
  const controller = new AbortController()
  const removeHandlers = onInterrupt(controller, io, 'stopping the health check and removing its VM')
  try {
    const outcome = await healthCheckFromRemote({
      remoteUrl,
      backupId,
      xapi: {
        url: options.xapi,
        user: options.user,
        password,
        allowUnauthorized: options.allowUnauthorized === true,
      },
      srUuid: options.sr,
      ...(options.timeout === undefined ? {} : { timeoutMs: options.timeout }),
      sink,
      signal: controller.signal,
    })
    const summary = live.close()
    if (options.json === true) {
      io.out(
        `${JSON.stringify({ healthy: true, backupId: outcome.backupId, vm: outcome.vm, durationMs: outcome.durationMs })}\n`,
      )
      return
    }
    io.out(formatRunSummary(summary))
    io.out(
      `healthy: ${outcome.backupId} booted and its guest reported its tools after ${(outcome.durationMs / 1000).toFixed(1)} s; the test VM is gone\n`,
    )
  } finally {
    removeHandlers()
    await view.close()
  }
}

/** Registers `health-check <remote-url> <backup-id>`: restore a backup, boot it, wait for its guest tools, destroy it. */
export function registerHealthCheckCommand(program: Command, io: CliIo): void {
  program
    .command('health-check')
    .description(
      'restore a backup on an SR, boot it without networks, wait for its guest tools, then destroy it',
    )
    .argument('<remote-url>', 'remote: /absolute/path, file:///path, s3://…, nfs://…, smb://…')
    .argument('<backup-id>', 'xo-vm-backups/<vm uuid>/<timestamp>.json, as `backups list --json` gives it')
    .requiredOption('--xapi <url>', 'the pool master, https://host (no password in it)')
    .requiredOption('--user <name>', 'XAPI user; the password comes from XAPI_PASSWORD or --password-file')
    .requiredOption('--sr <sr-uuid>', 'the SR the test VM is restored onto', parseSrOption)
    .option(
      '--timeout <duration>',
      'time the guest has to report its tools after boot (default 10m)',
      parseTimeout,
    )
    .option('--password-file <file>', 'read the XAPI password from the first line of this file')
    .option(
      '--allow-unauthorized',
      "accept any TLS certificate (XAPI's self-signed default); default: verified",
    )
    .option('--log <file>', 'also append the task log to this JSONL file (read it with `log show`)')
    .option('--json', 'print one JSON line {healthy, backupId, vm, durationMs} instead of the task view')
    .addOption(new Option('--password <password>').hideHelp())
    .action(async (remoteUrl: string, backupId: string, options: HealthCheckOptions) => {
      await healthCheckAction(remoteUrl, backupId, options, io)
    })
}
