import type { Command } from 'commander'
import { systemClock } from '../shared/clock.ts'
import type { RemoteTestResult } from '../remotes/remote-test.ts'
import type { RemoteInfo } from '../remotes/remote.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'
import { formatBytes, jsonText } from '../tasks/format.ts'

const MIB = 1 << 20

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

function renderSpace(info: RemoteInfo): string {
  if (info.freeBytes === undefined) return 'space: unknown (this remote does not report it)'
  const total = info.totalBytes === undefined ? '' : ` of ${formatBytes(info.totalBytes)}`
  return `space: ${formatBytes(info.freeBytes)} free${total}`
}

/** The human summary of a remote test (one fact per line, failures say which step). */
export function renderRemoteTest(description: string, result: RemoteTestResult): string {
  const lines = [`remote: ${description}`]
  if (result.success) {
    lines.push(
      `write:  ${formatBytes(result.sizeBytes)} in ${seconds(result.writeMs)} (${formatBytes(result.writeBytesPerSec)}/s)`,
      `read:   ${formatBytes(result.sizeBytes)} in ${seconds(result.readMs)} (${formatBytes(result.readBytesPerSec)}/s)`,
      `verify: sha256 matches (${result.sha256.slice(0, 16)}…), ranged read ok, test file deleted`,
      renderSpace(result.info),
      'result: success',
    )
  } else {
    const code = typeof result.error.code === 'string' ? ` [${result.error.code}]` : ''
    lines.push(`failed at step ${result.step}: ${jsonText(result.error.message)}${code}`)
    if (result.cleanupError !== undefined)
      lines.push(`warning: could not delete ${result.path}: ${jsonText(result.cleanupError.message)}`)
    lines.push('result: failure')
  }
  return `${lines.join('\n')}\n`
}

/** Registers `remote test <url>`: write, read back, verify, measure and delete a test file. */
export function registerRemoteCommands(program: Command, io: CliIo): void {
  const remote = program
    .command('remote')
    .description('check remotes (file://, s3://, s3+http://, nfs://, smb://)')
  remote
    .command('test')
    .description('write a test file, read it back, verify it, measure throughput, delete it')
    .argument(
      '<url>',
      'remote: /absolute/path, file:///path, s3://key:secret@host/bucket/dir, nfs://…, smb://…',
    )
    .option('--size-mib <n>', 'size of the test file in MiB', '10')
    .option('--json', 'print the result as JSON')
    .action(async (url: string, options: { sizeMib: string; json?: boolean }) => {
      const sizeMib = Number(options.sizeMib)
      if (!Number.isFinite(sizeMib) || sizeMib <= 0 || sizeMib > 100_000) {
        throw new CliExit(
          2,
          `--size-mib: expected a number of MiB in (0, 100000], got ${JSON.stringify(options.sizeMib)}`,
        )
      }
      // Loaded when used: opening a remote may load the AWS SDK (start-up cost of every command).
      const { openRemote } = await import('../remotes/open-remote.ts')
      const { testRemote } = await import('../remotes/remote-test.ts')
      const opened = await openRemote(url)
      let result: RemoteTestResult
      try {
        result = await testRemote(opened.remote, { sizeBytes: Math.round(sizeMib * MIB), clock: systemClock })
      } finally {
        await opened.close()
      }
      const description = opened.remote.description
      io.out(
        options.json === true
          ? `${JSON.stringify({ remote: description, ...result }, null, 2)}\n`
          : renderRemoteTest(description, result),
      )
      if (!result.success) throw new CliExit(1, `remote test failed at step ${result.step} (${description})`)
    })
}
