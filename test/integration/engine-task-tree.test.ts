// Snapshot test of the rendered task tree of real runs (issue 10 acceptance): a delta job twice
// (a key, then a delta whose expired predecessor is merged) and a full job once, each through the
// app's path against the simulator and a local remote. The rendering is compared, line by line,
// with test/fixtures/task-trees/*.txt once the values that change from run to run (uuids, dates,
// durations, rates) are replaced by placeholders; sizes stay, the disks' content being seeded.
// UPDATE_SNAPSHOTS=1 rewrites the fixtures (review the diff: it is the seed's tree shape).
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import type { PoolDescription } from '../../src/simulator/pool/description.ts'
import type { TaskTreeNode } from '../../src/tasks/index.ts'
import { renderTaskTree } from '../../src/tasks/index.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'

const MiB = 1024 * 1024
const FIXTURES = fileURLToPath(new URL('../fixtures/task-trees/', import.meta.url))
const UPDATE = process.env.UPDATE_SNAPSHOTS === '1'

const POOL: PoolDescription = {
  name: 'tree pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [{ name: 'Local', type: 'ext', sizeBytes: 512 * MiB }],
  networks: [{ name: 'net', bridge: 'xenbr0' }],
  vms: [
    {
      name: 'web',
      powerState: 'Running',
      disks: [
        { name: 'web system', sizeBytes: 8 * MiB, content: { seed: 11, allocatedFraction: 0.5 } },
        { name: 'web data', sizeBytes: 4 * MiB, content: { seed: 12, allocatedFraction: 1 } },
        { name: '[NOBAK] web scratch', sizeBytes: 2 * MiB, content: { seed: 13, allocatedFraction: 1 } },
      ],
      networks: ['net'],
    },
    {
      name: 'build',
      powerState: 'Halted',
      disks: [{ name: 'build system', sizeBytes: 4 * MiB, content: { seed: 14, allocatedFraction: 0.25 } }],
      networks: ['net'],
    },
  ],
}

/** Replaces what differs between two identical runs; keeps the shape, messages, statuses and sizes. */
function normalizeRendering(text: string): string {
  return (
    text
      // A run less than a second after the previous one waits for the next second (its info line).
      .replace(/^.*ℹ waited \d+ ms: the previous snapshot.*\n/gm, '')
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
      // A value cut by the renderer (60 characters) may end inside a uuid.
      .replace(/\b[0-9a-f]{8}-[0-9a-f-]*…/g, '<uuid>…')
      .replace(/OpaqueRef:[0-9a-f-]+/g, 'OpaqueRef:<ref>')
      .replace(/\d{8}T\d{6}Z?/g, '<datetime>')
      .replace(/\d{4}-\d{2}-\d{2}T[\d:.]+Z/g, '<iso-date>')
      .replace(/\b\d{12,}\b/g, '<epoch-ms>')
      .replace(/\d+(\.\d+)? [KMGTP]?i?B\/s/g, '<rate>')
      .replace(/\b\d+ h \d+ min\b|\b\d+ min \d+ s\b|\b\d+(\.\d)? s\b|\b\d+ ms\b/g, '<duration>')
  )
}

async function matchesSnapshot(name: string, rendered: string): Promise<void> {
  const file = join(FIXTURES, `${name}.txt`)
  const text = normalizeRendering(rendered)
  if (UPDATE) {
    await mkdir(FIXTURES, { recursive: true })
    await writeFile(file, text)
    return
  }
  const expected = await readFile(file, 'utf8').catch(() => {
    throw new Error(`no snapshot ${file}: run with UPDATE_SNAPSHOTS=1 and review it`)
  })
  assert.equal(text, expected, `${name}: the rendered tree differs from ${file}\n${rendered}`)
}

function seedShape(node: TaskTreeNode, depth = 0): string[] {
  const type = node.data?.type
  const label = node.kind === 'job' ? 'job' : (node.message ?? (typeof type === 'string' ? type : 'task'))
  return [`${'  '.repeat(depth)}${label}`, ...node.tasks.flatMap((child) => seedShape(child, depth + 1))]
}

describe('the rendered task tree of real runs (snapshot)', () => {
  let dir: string
  let sim: RunningSimulator
  let remoteDir: string
  const vmUuid = (name: string): string => sim.db.get('VM', sim.pool.vms.get(name) ?? '').uuid as string
  const description = (options: { id: string; mode: string; vm: string }): string =>
    [
      'job:',
      `  id: ${options.id}`,
      `  name: tree-${options.mode}`,
      `  mode: ${options.mode}`,
      '  remotes: { id: nas }',
      `  vms: { id: ${vmUuid(options.vm)} }`,
      '  settings:',
      "    '': { exportRetention: 1 }",
      'remotes:',
      `  nas: { url: "file://${remoteDir}" }`,
      'schedule: { id: 0f0f0f0f-1111-4222-8333-444455556666 }',
      'xapis:',
      '  pool:',
      `    url: ${sim.url}`,
      `    credentials: { username: ${sim.username}, password: { file: password } }`,
      '',
    ].join('\n')

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'task-tree-'))
    remoteDir = join(dir, 'remote')
    await mkdir(remoteDir)
    await mkdir(join(dir, 'sim'))
    sim = await startSimulator({ pool: POOL, dataDir: join(dir, 'sim') })
    await writeFile(join(dir, 'password'), `${sim.password}\n`)
  })
  after(async () => {
    await sim.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function run(file: string): Promise<TaskTreeNode> {
    const sink = new MemorySink()
    await runBackupFromFile(file, { sink })
    const roots = sink.trees().roots
    assert.equal(roots.length, 1, 'one job tree')
    const root = roots[0]
    assert.ok(root !== undefined, 'root !== undefined')
    return root
  }

  it('delta: a key, then a delta whose expired predecessor is merged', { timeout: 300_000 }, async () => {
    const file = join(dir, 'delta.yaml')
    await writeFile(
      file,
      description({ id: '1a1a1a1a-2b2b-4c3c-8d4d-5e5e5e5e5e5e', mode: 'delta', vm: 'web' }),
    )
    const first = await run(file)
    // The seed's tree: job → VM → snapshot, export → transfer, merge (delta), the infos on the job.
    assert.deepEqual(seedShape(first), [
      'job',
      '  VM',
      '    snapshot',
      '    export',
      '      transfer',
      '      merge',
    ])
    await matchesSnapshot('delta-key', renderTaskTree(first))

    sim.guestWrite(vmUuid('web'), { seed: 5, changedFraction: 0.25 })
    const second = await run(file)
    assert.deepEqual(seedShape(second), seedShape(first))
    await matchesSnapshot('delta-chained', renderTaskTree(second))
  })

  it('full: one XVA of a halted VM, then its clean step', { timeout: 300_000 }, async () => {
    const file = join(dir, 'full.yaml')
    await writeFile(
      file,
      description({ id: '2b2b2b2b-3c3c-4d4d-8e5e-6f6f6f6f6f6f', mode: 'full', vm: 'build' }),
    )
    const root = await run(file)
    assert.deepEqual(seedShape(root), ['job', '  VM', '    export', '      transfer', '      clean'])
    await matchesSnapshot('full', renderTaskTree(root))
  })
})
