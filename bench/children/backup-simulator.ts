// Child of the backup benchmark: the XAPI simulator in a process of its own, so that its CPU and
// memory are neither the backup child's nor the bench process's. One running VM with one disk of
// `sizeBytes`, half of its 2 MiB blocks allocated with seeded random (incompressible) bytes, all
// produced and written to the block file (`<dataDir>/blocks.bin`, sparse, on disk) before the
// first line is printed: the backups then read file bytes, not bytes being generated.
// stdout: one JSON line when ready ({url, username, password, vmUuid, vdiRef, blocks, allocatedBlocks}),
// then one JSON line per command read on stdin:
//   {"op":"rewrite","seed":n,"changedFraction":f} → {"blocks":k,"allocatedBlocks":a}: the guest rewrites
//   k = round(f × blocks) of the disk's allocated blocks in place (random bytes, through
//   storage.writeBlocks: a guest write, CBT follows). Not sim.guestWrite: that one picks among all
//   blocks, so about half of its writes would allocate new ones, and the disk, hence the work of
//   every later full backup, would grow from run to run while dd's stays the same.
//   {"op":"stats"} → {"rssBytes","peakRssBytes","cpuSeconds","blockFileBytes"} (this process's memory
//   and CPU time so far; blockFileBytes: the disk space its block file uses)
// It stops at the end of stdin.
import { randomFillSync } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { startSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription } from '../../src/simulator/index.ts'
import { selectBlocks } from '../../src/simulator/storage/block-content.ts'

const BLOCK_BYTES = 2 * 2 ** 20
const [dataDir, sizeText, seedText] = process.argv.slice(2)
const sizeBytes = Number(sizeText)
const seed = Number(seedText ?? 1)
if (
  dataDir === undefined ||
  !Number.isSafeInteger(sizeBytes) ||
  sizeBytes <= 0 ||
  !Number.isSafeInteger(seed)
)
  throw new Error('usage: backup-simulator.ts <dataDir> <disk size in bytes> [seed]')

const POOL: PoolDescription = {
  name: 'bench pool',
  hosts: [{ name: 'bench-host', address: '127.0.0.1' }],
  srs: [{ name: 'Local', type: 'ext', sizeBytes: 4 * 2 ** 40 }],
  networks: [{ name: 'net', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'bench-vm',
      powerState: 'Running',
      disks: [{ name: 'bench disk', sizeBytes, content: { seed, allocatedFraction: 0.5 } }],
      networks: ['net'],
    },
  ],
}

const sim = await startSimulator({ pool: POOL, dataDir })
try {
  const vm = sim.pool.vms.get('bench-vm') ?? ''
  const vbd = (sim.db.get('VM', vm).VBDs as string[])[0] ?? ''
  const vdiRef = sim.db.get('VBD', vbd).VDI as string
  sim.storage.materialize()
  const blocks = Math.ceil(sizeBytes / BLOCK_BYTES)
  console.log(
    JSON.stringify({
      url: sim.url,
      username: sim.username,
      password: sim.password,
      vmUuid: sim.db.get('VM', vm).uuid,
      vdiRef,
      blocks,
      allocatedBlocks: Math.round(blocks * 0.5),
    }),
  )
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line) as { op: string; seed?: number; changedFraction?: number }
    if (command.op === 'rewrite') {
      const allocated = sim.storage.source(vdiRef).blockIndexes
      const count = Math.round((command.changedFraction ?? 0) * blocks)
      const chosen = selectBlocks(allocated.length, count, command.seed ?? 1).map(
        (k) => allocated[k] as number,
      )
      sim.storage.writeBlocks(
        vdiRef,
        chosen.map((index) => ({
          offsetBytes: index * BLOCK_BYTES,
          data: randomFillSync(Buffer.allocUnsafe(BLOCK_BYTES)),
        })),
      )
      const after = sim.storage.source(vdiRef).blockIndexes.length
      console.log(JSON.stringify({ blocks: chosen.length, allocatedBlocks: after }))
    } else if (command.op === 'stats') {
      const file = await stat(join(dataDir, 'blocks.bin'))
      const cpu = process.cpuUsage()
      console.log(
        JSON.stringify({
          rssBytes: process.memoryUsage.rss(),
          // resourceUsage().maxRSS is in KiB on Linux.
          peakRssBytes: process.resourceUsage().maxRSS * 1024,
          cpuSeconds: (cpu.user + cpu.system) / 1e6,
          blockFileBytes: file.blocks * 512,
        }),
      )
    } else throw new Error(`backup-simulator.ts: unknown command ${line}`)
  }
} finally {
  await sim.close()
}
