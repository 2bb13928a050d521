// Hostile merge state in a repository (issue: state read from disk is confined and verified):
// `backups check --repair` resumes interrupted merges through the local merge store; a state file in
// one VM's chain folder must not make it rename or delete another VM's backup.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli } from '../../src/cli/testing/run-cli.ts'
import { snapshotTree, writeStateFile } from '../../src/formats/vhd/testing/hostile-vhd.ts'
import {
  bufferBlockSource,
  createRandom,
  randomSparseDisk,
} from '../../src/formats/vhd/testing/random-disk.ts'
import { VhdFile } from '../../src/formats/vhd/vhd-file.ts'
import { LocalFile } from '../../src/formats/vhd/random-access-file.ts'
import { openLocalRemote } from '../../src/remotes/local/local-remote.ts'
import type { Remote } from '../../src/remotes/remote.ts'
import { writeDeltaBackup } from '../../src/repository/delta-writer.ts'
import { vdiDir, vhdPath, vmDir } from '../../src/repository/layout.ts'
import { deltaMetadata, IDS } from '../../src/repository/testing/sample-metadata.ts'
import { newUuid } from '../../src/shared/ids.ts'

const MiB = 1024 * 1024
const day = 86_400_000
const t0 = Date.UTC(2026, 10, 1)
const OTHER_VM = '1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6'
let dir = ''

async function threeDeltas(remote: Remote, vmUuid: string): Promise<void> {
  const random = createRandom(vmUuid.charCodeAt(0))
  const { jobId, scheduleId, vm, vmSnapshot, vdis, vifs } = deltaMetadata(t0)
  for (let i = 0; i < 3; i++) {
    await writeDeltaBackup(remote, {
      metadata: {
        jobId,
        scheduleId,
        vm: { ...vm, uuid: vmUuid },
        vmSnapshot,
        vbds: {},
        vdis: { 'OpaqueRef:vdi-a': vdis['OpaqueRef:vdi-a'] ?? {} },
        vifs,
      },
      timestampMs: t0 + i * day,
      disks: [
        {
          vdiRef: 'OpaqueRef:vdi-a',
          vdiUuid: IDS.vdiA,
          source: bufferBlockSource(randomSparseDisk(random, 4 * MiB, 2)),
          uniqueId: newUuid(),
          ...(i === 0 ? {} : { parentTimestampMs: t0 + (i - 1) * day }),
        },
      ],
    })
  }
}

async function uuidOf(path: string): Promise<string> {
  const disk = await VhdFile.open(await LocalFile.open(join(dir, path)))
  await disk.close()
  return disk.uniqueId
}

describe('backups check --repair: hostile merge state', { timeout: 120_000 }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hostile-repo-merge-'))
    const remote = await openLocalRemote(dir)
    await threeDeltas(remote, IDS.vm)
    await threeDeltas(remote, OTHER_VM)
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it("refuses a state whose chain names another VM's backup, and changes nothing", async () => {
    const chainDir = join(dir, vdiDir(IDS.vm, IDS.job, IDS.vdiA))
    const name = (ms: number) => vhdPath(IDS.vm, IDS.job, IDS.vdiA, ms).split('/').at(-1) as string
    const victim = vhdPath(OTHER_VM, IDS.job, IDS.vdiA, t0 + day)
    const escape = `../../../../${victim.slice('xo-vm-backups/'.length)}`
    await writeStateFile(chainDir, name(t0), {
      parent: await uuidOf(vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0)),
      child: await uuidOf(vhdPath(IDS.vm, IDS.job, IDS.vdiA, t0 + 2 * day)),
      chain: [name(t0), escape, name(t0 + 2 * day)],
      step: 'cleanup',
    })
    const otherBefore = await snapshotTree(join(dir, vmDir(OTHER_VM)))
    const chainBefore = await snapshotTree(chainDir)
    const run = await cli('backups', 'check', `file://${dir}`, '--vm', IDS.vm, '--repair')
    assert.equal(run.code, 1, `${run.out}${run.err}`)
    assert.match(run.err, /\[PATH_ESCAPE\]/)
    assert.ok(run.err.includes(escape), run.err)
    assert.deepEqual(await snapshotTree(join(dir, vmDir(OTHER_VM))), otherBefore, "the other VM's files")
    assert.deepEqual(await snapshotTree(chainDir), chainBefore, 'the chain folder and its state file')
  })
})
