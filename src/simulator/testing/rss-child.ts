// A simulator in a child process for memory tests: a 20 GiB demo disk with a few written blocks
// (none with the argument --no-data); it reports its URL over IPC, then its peak RSS when asked:
// 'peak' answers and goes on, 'report' answers and exits.
import { startSimulator } from '../index.ts'
import { DATA_POOL, MiB, patternBytes } from './data-plane.ts'

/** What the child sends once it listens. */
export interface RssChildReady {
  readonly url: string
  readonly username: string
  readonly password: string
  readonly vm: string
  readonly vdi: string
}

const sim = await startSimulator({ pool: DATA_POOL })
const vm = sim.pool.vms.get('big') ?? ''
const vbd = (sim.db.get('VM', vm).VBDs as string[])[0] ?? ''
const vdi = sim.db.get('VBD', vbd).VDI as string
// 32 blocks of 2 MiB spread over the 20 GiB disk: 64 MiB of data, the rest sparse.
if (!process.argv.includes('--no-data')) {
  const block = patternBytes(42, 2 * MiB)
  for (let i = 0; i < 32; i++) sim.storage.writeBlocks(vdi, [{ offsetBytes: i * 320 * 2 * MiB, data: block }])
}
let peak = process.memoryUsage().rss
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss)
}, 10)
// Closing removes the simulator's block file (64 MiB with data): a parent that kills the child
// (SIGTERM), even while it is closing after 'report', must not leave it behind in the temp dir.
let closing: Promise<void> | undefined
const closeAndExit = (): void => {
  clearInterval(sampler)
  closing ??= sim.close().finally(() => process.exit(0))
}
process.on('SIGTERM', closeAndExit)
process.on('message', (message) => {
  if (message !== 'report' && message !== 'peak') return
  peak = Math.max(peak, process.memoryUsage().rss)
  process.send?.({ peakRssBytes: peak })
  if (message === 'peak') return
  closeAndExit()
})
const ready: RssChildReady = { url: sim.url, username: sim.username, password: sim.password, vm, vdi }
process.send?.(ready)
