import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Command } from 'commander'
import type { PoolDescription } from '../simulator/index.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'

interface SimulatorCliOptions {
  readonly config?: string
  readonly port: string
  readonly host: string
  readonly tls?: boolean
  readonly dataDir?: string
  readonly password?: string
}

function parsePort(text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliExit(2, `--port: expected an integer 0..65535, got ${JSON.stringify(text)}`)
  }
  return port
}

// Writes the self-signed certificate where a client can be pointed at it (the data dir, else a temp dir).
async function writeCaCert(pem: string, dataDir: string | undefined): Promise<string> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'xapi-backup-simulator-')))
  await mkdir(dir, { recursive: true })
  const path = join(dir, 'simulator-ca.pem')
  await writeFile(path, pem)
  return path
}

function waitForStopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(signal)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

/**
 * Registers `simulator [--config f] [--port n] [--host h] [--tls] [--data-dir d] [--password p]`:
 * starts a XAPI simulator (the demo pool unless `--config` names a JSON/YAML pool file), prints
 * `url:`, `user:`, `password:` (and `ca-cert:` with `--tls`) lines, and runs until SIGINT/SIGTERM.
 */
export function registerSimulatorCommand(program: Command, io: CliIo): void {
  program
    .command('simulator')
    .description('run a XAPI simulator (XML-RPC on /, JSON-RPC on /jsonrpc) until interrupted')
    .option('--config <file>', 'pool description (.json, .yaml or .yml); default: the built-in demo pool')
    .option('--port <n>', 'TCP port; 0 picks a free one', '0')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--tls', 'serve HTTPS with a fresh self-signed certificate (needs the openssl command)')
    .option('--data-dir <dir>', 'where VDI contents and the TLS certificate are kept (created if missing)')
    .option('--password <password>', 'password for root; default: a random one, printed')
    .action(async (options: SimulatorCliOptions) => {
      const port = parsePort(options.port)
      // Loaded here: the simulator (and its YAML and schema code) is not part of other commands' start-up.
      const { readPoolDescription, startSimulator } = await import('../simulator/index.ts')
      // The folder is the user's choice of where to keep data: make it, like `mkdir -p`.
      if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true })
      const pool: PoolDescription | undefined =
        options.config === undefined ? undefined : await readPoolDescription(options.config)
      const stopped = waitForStopSignal()
      const sim = await startSimulator({
        port,
        host: options.host,
        tls: options.tls === true,
        ...(pool === undefined ? {} : { pool }),
        ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
        ...(options.password === undefined ? {} : { password: options.password }),
      })
      const lines = [
        `XAPI simulator listening on ${sim.url}`,
        `url: ${sim.url}`,
        `user: ${sim.username}`,
        `password: ${sim.password}`,
      ]
      if (sim.caCertPem !== undefined)
        lines.push(`ca-cert: ${await writeCaCert(sim.caCertPem, options.dataDir)}`)
      lines.push(`pool: ${sim.pool.vms.size} VMs; stop with Ctrl-C`)
      io.out(`${lines.join('\n')}\n`)
      const signal = await stopped
      await sim.close()
      io.out(`simulator stopped (${signal})\n`)
    })
}
