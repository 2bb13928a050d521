import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { chainToRaw } from '../../src/formats/vhd/conversions.ts'
import { assertSameBytes, collect, createRandom } from '../../src/formats/vhd/testing/random-disk.ts'
import { VhdChain } from '../../src/formats/vhd/vhd-chain.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { checkVmBackups, repairVmBackups } from '../../src/repository/check.ts'
import { parseChecksumText } from '../../src/repository/checksum-file.ts'
import type { BackupListing } from '../../src/repository/listing.ts'
import { listVmBackups } from '../../src/repository/listing.ts'
import { openRemoteFile } from '../../src/repository/remote-file.ts'
import {
  CRASH_BACKUPS,
  CRASH_T0,
  crashDiskContent,
  crashXva,
} from '../../src/repository/testing/crash-scenario.ts'
import { IDS } from '../../src/repository/testing/sample-metadata.ts'

const child = new URL('../../src/repository/testing/crash-child.ts', import.meta.url).pathname
const DAY = 86_400_000
const TOTAL_OPERATIONS = 172 // what the scenario performs uncut (asserted below)
const TRIALS = 12

function runChild(root: string, killAt: number, from = 0): { killed: boolean; stdout: string } {
  const run = spawnSync(process.execPath, ['--import', 'tsx', child, root, String(killAt), String(from)], {
    encoding: 'utf8',
    env: { ...process.env, NODE_TEST_CONTEXT: undefined },
  })
  if (run.signal !== 'SIGKILL' && run.status !== 0) throw new Error(`crash child failed: ${run.stderr}`)
  return { killed: run.signal === 'SIGKILL', stdout: run.stdout }
}

/** Asserts a listed backup restores to exactly what the scenario wrote. */
async function assertRestorable(remote: Remote, root: string, backup: BackupListing): Promise<void> {
  assert.deepEqual(backup.missingFiles, [], `${backup.id} is listed, so it must be complete`)
  const day = Math.floor((backup.timestampMs - CRASH_T0) / DAY)
  if (backup.metadata.mode === 'full') {
    const bytes = await readFile(join(root, backup.files[0] ?? ''))
    assertSameBytes(bytes, crashXva(day), backup.id)
    const { algorithm, hex } = parseChecksumText(
      await readFile(join(root, backup.checksumFile ?? ''), 'utf8'),
      backup.id,
    )
    assert.equal(createHash(algorithm).update(bytes).digest('hex'), hex)
    return
  }
  for (const [k, path] of backup.files.entries()) {
    const chain = await VhdChain.open(path, (p) => openRemoteFile(remote, p))
    try {
      assertSameBytes(await collect(chainToRaw(chain)), crashDiskContent(k, day), `${backup.id} disk ${k}`)
    } finally {
      await chain.close()
    }
  }
}

async function fingerprint(root: string, backups: readonly BackupListing[]): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const b of backups) {
    for (const f of [b.id, ...b.files, ...(b.checksumFile === undefined ? [] : [b.checksumFile])]) {
      out.set(
        f,
        createHash('sha256')
          .update(await readFile(join(root, f)))
          .digest('hex'),
      )
    }
  }
  return out
}

describe('backup writers killed at random points', () => {
  it('the uncut scenario performs the expected number of operations', async () => {
    const root = await mkdtemp(join(tmpdir(), 'crash-'))
    try {
      assert.match(
        runChild(root, Number.MAX_SAFE_INTEGER).stdout,
        new RegExp(`finished at ${TOTAL_OPERATIONS}\\n$`),
      )
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })

  it(`never leave a listed backup that fails to restore; check & repair then make it consistent (${TRIALS} kills)`, async () => {
    const random = createRandom(20261127)
    for (let trial = 0; trial < TRIALS; trial++) {
      const killAt = 1 + Math.floor(random() * (TOTAL_OPERATIONS - 1))
      const root = await mkdtemp(join(tmpdir(), 'crash-'))
      try {
        assert.equal(runChild(root, killAt).killed, true, `killed at operation ${killAt}`)
        const remote = await openLocalRemote(root)
        const { backups, invalid } = await listVmBackups(remote, IDS.vm, { useCache: false })
        assert.deepEqual(invalid, [], `kill at ${killAt}: no unreadable metadata`)
        for (const backup of backups) await assertRestorable(remote, root, backup)

        const report = await checkVmBackups(remote, IDS.vm)
        const unexpected = report.findings.filter(
          (f) => !['orphan-vhd', 'orphan-file', 'temp-file'].includes(f.kind),
        )
        assert.deepEqual(unexpected, [], `kill at ${killAt}: only leftovers of the interrupted backup`)
        const before = await fingerprint(root, backups)
        await repairVmBackups(remote, report)
        assert.deepEqual(
          (await checkVmBackups(remote, IDS.vm)).findings,
          [],
          `kill at ${killAt}: consistent after repair`,
        )
        assert.deepEqual(
          await fingerprint(root, backups),
          before,
          `kill at ${killAt}: complete backups untouched`,
        )

        // The next run goes on from the last committed delta and chains onto it.
        const next = backups.filter((b) => b.metadata.mode === 'delta').length
        if (next < CRASH_BACKUPS) runChild(root, Number.MAX_SAFE_INTEGER, next)
        const after = await listVmBackups(remote, IDS.vm, { useCache: false })
        assert.equal(after.backups.filter((b) => b.metadata.mode === 'delta').length, CRASH_BACKUPS)
        for (const backup of after.backups) await assertRestorable(remote, root, backup)
        assert.deepEqual((await checkVmBackups(remote, IDS.vm)).findings, [])
      } finally {
        await rm(root, { recursive: true, force: true })
      }
    }
  })
})
