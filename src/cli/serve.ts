// `xapi-backup serve` and `xapi-backup token create|list|revoke` (issue 12): the job server, and
// the API tokens it accepts. Tokens are printed once by `create` (alone on its last line) and
// stored hashed; the server never logs them.
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Command } from 'commander'
import { systemClock } from '../shared/clock.ts'
import type { Store } from '../daemon/store-port.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'
import { onInterrupt } from './interrupt.ts'
import { readVersion } from './version.ts'

const DEFAULT_DATA_DIR = './xapi-backup-data'
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

interface ServeOptions {
  readonly dataDir: string
  readonly port: string
  readonly host: string
  readonly tlsCert?: string
  readonly tlsKey?: string
  readonly concurrency: string
}

function integer(text: string, option: string, min: number, max: number): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min || value > max)
    throw new CliExit(2, `${option}: expected an integer ${min}..${max}, got ${JSON.stringify(text)}`)
  return value
}

/** dist/web next to src/ (from the sources) or dist/src/ (from the build). */
function findWebRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url))
  for (const candidate of [resolve(here, '../../dist/web'), resolve(here, '../../web')])
    if (existsSync(join(candidate, 'index.html')) && !existsSync(join(candidate, 'src'))) return candidate
  return undefined
}

async function serve(options: ServeOptions, io: CliIo): Promise<void> {
  const port = integer(options.port, '--port', 0, 65535)
  const concurrency = integer(options.concurrency, '--concurrency', 1, 64)
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined))
    throw new CliExit(2, '--tls-cert and --tls-key go together')
  const tls =
    options.tlsCert === undefined || options.tlsKey === undefined
      ? undefined
      : { certFile: options.tlsCert, keyFile: options.tlsKey }
  if (tls === undefined && !LOOPBACK.has(options.host))
    io.err(
      `warning: plain HTTP on ${options.host}: tokens cross the network in clear; give --tls-cert and --tls-key\n`,
    )
  const { startServer } = await import('../api/start-server.ts')
  const webRoot = findWebRoot()
  const server = await startServer({
    dataDir: options.dataDir,
    port,
    host: options.host,
    concurrency,
    version: readVersion(),
    log: (message) => {
      io.err(`${new Date(systemClock.now()).toISOString()} ${message}\n`)
    },
    ...(tls === undefined ? {} : { tls }),
    ...(webRoot === undefined ? {} : { webRoot }),
  })
  const { store } = server
  const tokens = store.listTokens().filter((t) => t.revokedAt === null).length
  io.out(
    [
      `xapi-backup job server listening on ${server.url}`,
      `url: ${server.url}`,
      `data-dir: ${resolve(options.dataDir)}`,
      `console: ${webRoot === undefined ? 'not built (npm run build:web)' : `${server.url}/`}`,
      tokens === 0
        ? `no API token yet: xapi-backup token create --data-dir ${options.dataDir}`
        : `tokens: ${tokens}`,
      'stop with Ctrl-C (running jobs are cancelled cleanly)',
    ].join('\n') + '\n',
  )
  const stop = new AbortController()
  const off = onInterrupt(stop, io, 'no new runs; cancelling the running ones and waiting for their cleanup')
  await new Promise<void>((done) => {
    stop.signal.addEventListener(
      'abort',
      () => {
        done()
      },
      { once: true },
    )
  })
  try {
    await server.close()
  } finally {
    off()
  }
  io.out('job server stopped\n')
}

/** Registers `serve [--data-dir] [--port] [--host] [--tls-cert --tls-key] [--concurrency]`. */
export function registerServeCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('run the job server: schedules, REST API, web console (until SIGINT/SIGTERM)')
    .option('--data-dir <dir>', 'where the store and its secrets file are kept', DEFAULT_DATA_DIR)
    .option('--port <n>', 'TCP port; 0 picks a free one', '8080')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--tls-cert <file>', 'PEM certificate: serve HTTPS')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--concurrency <n>', 'runs at the same time across jobs', '2')
    .action((options: ServeOptions) => serve(options, io))
}

/** Registers `token create|list|revoke --data-dir D`. */
export function registerTokenCommands(program: Command, io: CliIo): void {
  const token = program.command('token').description('API tokens of the job server')
  const withStore = async <T>(dataDir: string, fn: (store: Store) => T): Promise<T> => {
    const { openStore } = await import('../daemon/store/open-store.ts')
    const store = openStore(dataDir)
    try {
      return fn(store)
    } finally {
      store.close()
    }
  }
  token
    .command('create')
    .description('create a token; it is printed once, alone on the last line')
    .option('--data-dir <dir>', 'the server data directory', DEFAULT_DATA_DIR)
    .option('--name <name>', 'what the token is for', 'api')
    .action(async (options: { dataDir: string; name: string }) => {
      const { record, token: value } = await withStore(options.dataDir, (s) => s.createToken(options.name))
      io.err(`token ${record.id} (${record.name}) created; it is not shown again:\n`)
      io.out(`${value}\n`)
    })
  token
    .command('list')
    .description('list tokens (never their values)')
    .option('--data-dir <dir>', 'the server data directory', DEFAULT_DATA_DIR)
    .option('--json', 'JSON output')
    .action(async (options: { dataDir: string; json?: boolean }) => {
      const tokens = await withStore(options.dataDir, (s) => s.listTokens())
      if (options.json === true) {
        io.out(`${JSON.stringify(tokens, null, 2)}\n`)
        return
      }
      const when = (ms: number | null): string => (ms === null ? '-' : new Date(ms).toISOString())
      io.out(
        tokens.length === 0
          ? 'no tokens\n'
          : tokens
              .map(
                (t) =>
                  `${t.id}  ${t.name}  created ${when(t.createdAt)}  last used ${when(t.lastUsedAt)}${t.revokedAt === null ? '' : `  REVOKED ${when(t.revokedAt)}`}`,
              )
              .join('\n') + '\n',
      )
    })
  token
    .command('revoke <id>')
    .description('revoke a token (refused by the server from its next request)')
    .option('--data-dir <dir>', 'the server data directory', DEFAULT_DATA_DIR)
    .action(async (id: string, options: { dataDir: string }) => {
      if (!(await withStore(options.dataDir, (s) => s.revokeToken(id))))
        throw new CliExit(1, `no token ${id}`)
      io.out(`token ${id} revoked\n`)
    })
}
