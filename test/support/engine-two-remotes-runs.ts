// Running the job of test/integration/engine-two-remotes.test.ts and judging a run: in this
// process or in a child under a file size limit, the task tree read back from the JSONL log, the
// exports the simulator served, and the assertions shared by its cases (a healthy run, a run that
// dropped one remote, XO's computed statuses).
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runBackupFromFile } from '../../src/app/run-backup.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { checkVmBackups } from '../../src/repository/check.ts'
import { readTaskLog } from '../../src/tasks/sinks/jsonl-reader.ts'
import { JsonlFileSink } from '../../src/tasks/sinks/jsonl-sink.ts'
import { buildTaskTrees, runStatus } from '../../src/tasks/tree.ts'
import type { TaskTreeNode } from '../../src/tasks/tree.ts'
import type { ReadBackup, TwoRemotesWorld } from './engine-two-remotes-fixture.ts'

/** True when util-linux's prlimit can run a child under a file size limit. */
export const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0
const childScript = fileURLToPath(new URL('./engine-two-remotes-child.ts', import.meta.url))

/** What one run left: the job's tree from the JSONL log, the VM outcome, the exports served. */
export interface RunRecord {
  readonly root: TaskTreeNode
  readonly vm: TaskTreeNode
  readonly vmStatus: string
  readonly served: TwoRemotesWorld['served']
}

function treeOf(events: Parameters<typeof buildTaskTrees>[0]): TaskTreeNode {
  const { roots, orphans } = buildTaskTrees(events)
  assert.equal(orphans.length, 0, 'every event of the log belongs to the job')
  assert.equal(roots.length, 1, 'one job per log')
  return roots[0] as TaskTreeNode
}

function vmNode(root: TaskTreeNode): TaskTreeNode {
  const vms = root.tasks.filter((t) => t.data?.type === 'VM')
  assert.equal(vms.length, 1, 'one VM task')
  return vms[0] as TaskTreeNode
}

/** The `export` task of remote `remoteId` under the VM task (exactly one). */
export function exportNode(vm: TaskTreeNode, remoteId: string): TaskTreeNode {
  const found = vm.tasks.filter((t) => t.message === 'export' && t.data?.id === remoteId)
  assert.equal(found.length, 1, `one export task for remote ${remoteId}`)
  return found[0] as TaskTreeNode
}

/** Runs the job in this process with its task log in a JSONL file, read back from the file. */
export async function runHere(world: TwoRemotesWorld, job: string, log: string): Promise<RunRecord> {
  const first = world.served.length
  const sink = await JsonlFileSink.open(log)
  let result
  try {
    result = await runBackupFromFile(job, { sink, clock: world.clock })
  } finally {
    await sink.close()
  }
  const { events, rejected } = await readTaskLog(log)
  assert.deepEqual(rejected, [], 'the JSONL log reads back whole')
  const root = treeOf(events)
  assert.equal(result.vms.length, 1)
  return { root, vm: vmNode(root), vmStatus: result.vms[0]?.status ?? '?', served: world.served.slice(first) }
}

/** Runs the job in a child process whose files may not grow past `fileSizeLimit` bytes. */
export async function runLimited(
  world: TwoRemotesWorld,
  job: string,
  log: string,
  fileSizeLimit: number,
): Promise<RunRecord> {
  const first = world.served.length
  const child = spawn(
    'prlimit',
    [
      `--fsize=${fileSizeLimit}:${fileSizeLimit}`,
      process.execPath,
      '--import',
      'tsx',
      childScript,
      job,
      log,
      String(world.offsetMs),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text))
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  assert.equal(code, 0, `child: ${stderr}`)
  const line = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    fileSizeLimit: string
    outcome: { vms?: { status: string }[]; error?: string }
  }
  assert.equal(line.fileSizeLimit, String(fileSizeLimit), 'the child ran under the file size limit')
  assert.equal(line.outcome.error, undefined, 'the job run did not throw')
  const { events, rejected } = await readTaskLog(log)
  assert.deepEqual(rejected, [])
  const root = treeOf(events)
  return {
    root,
    vm: vmNode(root),
    vmStatus: line.outcome.vms?.[0]?.status ?? '?',
    served: world.served.slice(first),
  }
}

/** One export per disk of the run's snapshot, full (no base) or delta, served once each. */
export function assertServedOnce(
  run: RunRecord,
  snapshotVdis: Iterable<string>,
  delta: boolean,
  label: string,
): void {
  assert.deepEqual(
    run.served.map((s) => s.vdi).sort(),
    [...snapshotVdis].sort(),
    `${label}: the simulator served each snapshot VDI export exactly once`,
  )
  for (const s of run.served)
    assert.equal(s.base !== undefined, delta, `${label}: ${s.vdi} exported as a ${delta ? 'delta' : 'full'}`)
}

/** A healthy run: every task succeeded, both remotes got the backup, no warning on the VM. */
export function assertHealthy(run: RunRecord, label: string): void {
  assert.equal(runStatus(run.root), 'success', label)
  assert.equal(run.vmStatus, 'success', label)
  for (const id of ['nas', 's3'])
    assert.equal(exportNode(run.vm, id).status, 'success', `${label}: export to ${id}`)
  assert.deepEqual(
    run.vm.warnings.filter((w) => /failed at/.test(w.message)).map((w) => w.message),
    [],
    `${label}: no target dropped`,
  )
}

/**
 * The run where `failed` was dropped mid-transfer: its export task failed at `transfer`, the
 * other remote's export (transfer and merge) succeeded, the VM task has one warning naming the
 * failed remote, the step and its cause; the VM task itself ends success (the backup exists on
 * the other remote) while the VM's and the job's run status are failure, as XO computes them.
 */
export function assertDropped(run: RunRecord, failed: string, healthy: string, cause: RegExp): void {
  const drops = run.vm.warnings.filter((w) => /failed at/.test(w.message))
  assert.equal(drops.length, 1, JSON.stringify(run.vm.warnings))
  const drop = drops[0]
  assert.ok(drop !== undefined, 'a drop warning')
  assert.match(drop.message, new RegExp(`^remote ${failed} failed at transfer`))
  const data = drop.data ?? {}
  assert.equal(data.id, failed)
  assert.equal(data.type, 'remote')
  assert.equal(data.step, 'transfer')
  assert.match(JSON.stringify(data.error), cause, 'the warning carries the cause')
  const bad = exportNode(run.vm, failed)
  assert.equal(bad.status, 'failure')
  assert.equal(bad.tasks.find((t) => t.message === 'transfer')?.status, 'failure')
  assert.match(JSON.stringify(bad.error), cause)
  const good = exportNode(run.vm, healthy)
  assert.equal(good.status, 'success')
  const transfer = good.tasks.find((t) => t.message === 'transfer')
  assert.ok(transfer !== undefined, `a transfer task under the export to ${healthy}`)
  assert.equal(transfer.status, 'success')
  assert.ok(((transfer.result as { size?: number }).size ?? 0) > 0, 'the healthy remote got data')
  assert.equal(good.tasks.find((t) => t.message === 'merge')?.status, 'success')
  assert.equal(run.vm.status, 'success', 'the VM task ends success: it is backed up on the other remote')
  assert.equal(run.vmStatus, 'success')
  assert.equal(runStatus(run.vm), 'failure', "XO's computed status of the VM: a subtask failed")
  assert.equal(run.root.status, 'success', 'the job ended without error')
  assert.equal(runStatus(run.root), 'failure', "XO's computed status of the job")
}

/** The backups on a remote: snapshot uuid and, per disk, delta (true) or key (false). */
export const shape = (read: readonly ReadBackup[]) =>
  read.map((b) => ({ snapshot: b.snapshotUuid, deltas: b.differencing }))
/** A key backup of `snapshot` (both disks dynamic VHDs). */
export const key = (snapshot: string) => ({ snapshot, deltas: [false, false] })
/** A delta backup of `snapshot` (both disks differencing VHDs). */
export const delta = (snapshot: string) => ({ snapshot, deltas: [true, true] })

/** Every object under the remote's root (the bucket prefix or the directory). */
export async function allFiles(remote: Remote): Promise<string[]> {
  const paths: string[] = []
  for await (const entry of remote.list('', { recursive: true }))
    if (entry.kind === 'file') paths.push(entry.path)
  return paths.sort()
}

/** The kinds of check's findings for the VM, sorted. */
export async function findingKinds(remote: Remote, vmUuid: string): Promise<string[]> {
  return (await checkVmBackups(remote, vmUuid)).findings.map((f) => f.kind).sort()
}
