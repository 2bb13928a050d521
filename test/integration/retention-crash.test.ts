import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { localRemoteMergeStore } from '../../src/app/local-merge-store.ts'
import { chainToRaw } from '../../src/formats/vhd/conversions.ts'
import { assertSameBytes, collect, createRandom } from '../../src/formats/vhd/testing/random-disk.ts'
import { VhdChain } from '../../src/formats/vhd/vhd-chain.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { checkVmBackups, repairVmBackups } from '../../src/repository/check.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { resumeInterruptedMerges } from '../../src/repository/merge.ts'
import { openRemoteFile } from '../../src/repository/remote-file.ts'
import { applyRetention } from '../../src/repository/retention-apply.ts'
import {
  CRASH_T0,
  crashDiskContent,
  writeCrashScenario,
} from '../../src/repository/testing/crash-scenario.ts'
import { IDS } from '../../src/repository/testing/sample-metadata.ts'

const child = new URL('../support/retention-crash-child.ts', import.meta.url).pathname
const DAY = 86_400_000
const EXPIRE = 4
const TRIALS = 10
let template = ''

function runChild(root: string, killAt: number): { killed: boolean; operations: number } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', child, root, String(killAt), String(EXPIRE)], {
    encoding: 'utf8',
    env: { ...process.env, NODE_TEST_CONTEXT: undefined },
  })
  if (run.signal !== 'SIGKILL' && run.status !== 0) throw new Error(`retention child failed: ${run.stderr}`)
  return { killed: run.signal === 'SIGKILL', operations: Number(run.stdout.trim()) }
}

/** Every listed delta backup reads back as the scenario wrote it (full backups are not merged). */
async function assertKeptBackupsRestore(remote: Remote, when: string): Promise<number> {
  const { backups } = await listVmBackups(remote, IDS.vm, { useCache: false })
  const deltas = backups.filter((b) => b.metadata.mode === 'delta')
  for (const backup of deltas) {
    const day = Math.floor((backup.timestampMs - CRASH_T0) / DAY)
    for (const [k, path] of backup.files.entries()) {
      const chain = await VhdChain.open(path, (p) => openRemoteFile(remote, p))
      try {
        assertSameBytes(
          await collect(chainToRaw(chain)),
          crashDiskContent(k, day),
          `${when}: ${backup.id} disk ${k}`,
        )
      } finally {
        await chain.close()
      }
    }
  }
  return deltas.length
}

before(async () => {
  template = await mkdtemp(join(tmpdir(), 'retention-template-'))
  await writeCrashScenario(await openLocalRemote(template), 0, () => undefined)
})
after(async () => {
  await rm(template, { recursive: true, force: true })
})

describe('retention merges killed at random points', () => {
  it(`leave every kept backup restorable once the interrupted merge is resumed, and the next run finishes (${TRIALS} kills)`, async () => {
    const dry = await mkdtemp(join(tmpdir(), 'retention-'))
    let total: number
    try {
      await cp(template, dry, { recursive: true })
      total = runChild(dry, 0).operations
      assert.ok(total > 10, `the merges perform ${total} mutating operations`)
      assert.equal(await assertKeptBackupsRestore(await openLocalRemote(dry), 'uncut'), 8 - EXPIRE)
    } finally {
      await rm(dry, { recursive: true, force: true })
    }
    const random = createRandom(4242)
    for (let trial = 0; trial < TRIALS; trial++) {
      const killAt = 1 + Math.floor(random() * total)
      const root = await mkdtemp(join(tmpdir(), 'retention-'))
      try {
        await cp(template, root, { recursive: true })
        assert.equal(runChild(root, killAt).killed, true)
        const remote = await openLocalRemote(root)
        // A check & repair that runs before anyone resumes the merge must not destroy anything.
        const report = await checkVmBackups(remote, IDS.vm)
        assert.deepEqual(
          report.findings.filter((f) => f.deletes.length > 0 && f.kind !== 'temp-file'),
          [],
          `killed at ${killAt}: nothing to delete while a merge is interrupted`,
        )
        await repairVmBackups(remote, report)
        // What a restore does first: finish the merge the crash interrupted (docs/formats/vhd.md).
        await resumeInterruptedMerges(remote, localRemoteMergeStore(root), IDS.vm)
        await assertKeptBackupsRestore(remote, `killed at ${killAt}, merge resumed`)
        await applyRetention(remote, IDS.vm, [], { store: localRemoteMergeStore(root) })
        assert.deepEqual(
          (await checkVmBackups(remote, IDS.vm)).findings,
          [],
          `killed at ${killAt}: consistent after the next run`,
        )
        assert.equal(await assertKeptBackupsRestore(remote, `after resuming ${killAt}`), 8 - EXPIRE)
      } finally {
        await rm(root, { recursive: true, force: true })
      }
    }
  })
})
