// CLI start-up (issue 7): the command as a user runs it, `node bin/xapi-backup.js …`, against
// `node -e 0` (the floor of any Node CLI) and `qemu-img info` (what an admin would otherwise run).
// bin/xapi-backup.js runs dist/ when `npm run build` has produced it, else the TypeScript sources
// through tsx: the side names say which one was measured, as the two differ by the compile step.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Benchmark, FigureSpec, Side } from './harness.ts'
import { timeCommand } from './processes.ts'
import { BLOCK, MiB, sameBlocks, writeVhd } from './vhd-files.ts'

const BIN = new URL('../bin/xapi-backup.js', import.meta.url).pathname
const COMPILED = new URL('../dist/src/cli/main.js', import.meta.url).pathname

function hasQemuImg(): boolean {
  return spawnSync('qemu-img', ['--version'], { stdio: 'ignore' }).status === 0
}

function command(name: string, file: string, args: readonly string[]): Side {
  return { name, timeUnit: 'ms', measure: () => timeCommand(file, args) }
}

export const benchmarks: Benchmark[] = [
  {
    name: 'cli-startup',
    async setup({ dir, log }) {
      // A 16 MiB dynamic VHD with 2 allocated blocks: `info` reads its footer, header and BAT only.
      const vhd = join(dir, 'small.vhd')
      await writeVhd(vhd, sameBlocks(16 * MiB, [0, 3], new Uint8Array(BLOCK).fill(7)))
      const compiled = existsSync(COMPILED)
      const via = compiled ? 'dist/ (compiled)' : 'tsx (no dist/: TypeScript compiled at start-up)'
      const node = process.execPath
      // Declared so that every figure's sides are neighbours in a run: tsx, version, node, info, qemu.
      const sides: Record<string, Side> = {}
      const figures: FigureSpec[] = []
      if (!compiled) {
        // What tsx itself costs: the rest of the start-up is ours (imports, then the work).
        sides.tsx = command('node --import tsx -e 0', node, ['--import', 'tsx', '-e', '0'])
        figures.push({ name: 'cli.version.vs-tsx-floor', subject: 'version', reference: 'tsx' })
      }
      sides.version = command(`node bin/xapi-backup.js --version, through ${via}`, node, [BIN, '--version'])
      sides.node = command('node -e 0', node, ['-e', '0'])
      sides.info = command(`node bin/xapi-backup.js vhd info <16 MiB vhd>, through ${via}`, node, [
        BIN,
        ...['vhd', 'info', vhd],
      ])
      figures.push(
        { name: 'cli.version.vs-node', subject: 'version', reference: 'node' },
        { name: 'cli.vhd-info.vs-node', subject: 'info', reference: 'node' },
      )
      if (hasQemuImg()) {
        sides.qemu = command('qemu-img info <same vhd>', 'qemu-img', ['info', vhd])
        figures.push({ name: 'cli.vhd-info.vs-qemu-img', subject: 'info', reference: 'qemu' })
      } else log('cli-startup: qemu-img not found, skipping the qemu-img figure')
      return { sides, figures }
    },
  },
]
