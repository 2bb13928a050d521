// importDeltaVm (restore and CR) against the simulator: XAPI's VM.create ignores a record's
// blocked_operations, so the VM being imported must have its start blocked by a call of its own
// before its disks are written — a VM booted on half-written disks would corrupt them. The disk's
// blocks are held back by the test until it has checked that VM.start is refused.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { BlockSource, DiskBlock } from '../../src/formats/block-source.ts'
import { importDeltaVm } from '../../src/engine/restore/import-delta-vm.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import { runRootTask } from '../../src/tasks/task.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

const MiB = 1024 * 1024

describe('importDeltaVm: the VM cannot be started while its disks are imported', () => {
  let sim: RunningSimulator
  let xapi: HttpXapiClient
  before(async () => {
    sim = await startSimulator({
      pool: {
        name: 'p',
        hosts: [{ name: 'h', address: '127.0.0.1' }],
        srs: [{ name: 'S', type: 'ext' }],
        networks: [{ name: 'net', bridge: 'xenbr0' }],
        vms: [
          { name: 'src', powerState: 'Halted', disks: [{ name: 'd', sizeBytes: 4 * MiB }], networks: [] },
        ],
      },
    })
    xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await xapi.connect()
  })
  after(async () => {
    await xapi.disconnect()
    await sim.close()
  })

  it('blocks start from VM.create until the import is over', { timeout: 120_000 }, async () => {
    const srcRef = sim.pool.vms.get('src') ?? ''
    const vm = await xapi.getRecord('VM', srcRef)
    const vbdRef = vm.VBDs[0] ?? ''
    const vbd = await xapi.getRecord('VBD', vbdRef)
    const vdi = await xapi.getRecord('VDI', vbd.VDI)
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const source: BlockSource = {
      virtualSize: 4 * MiB,
      blockSize: 2 * MiB,
      blockIndexes: [0],
      async *blocks(): AsyncIterable<DiskBlock> {
        await held
        yield { index: 0, data: new Uint8Array(2 * MiB).fill(9) }
      },
    }
    const importing = runRootTask({ sink: new MemorySink() }, { message: 'test' }, (task) =>
      importDeltaVm(
        xapi,
        {
          vmRecord: vm,
          vbds: { [vbdRef]: vbd },
          vdis: { [vbd.VDI]: vdi },
          vifs: {},
          disks: [{ vdiRef: vbd.VDI, source, srRef: sim.pool.srs.get('S') ?? '' }],
          nameLabel: 'copy',
          tags: [],
          finalBlockedOperations: {},
        },
        {},
        task,
      ),
    )
    try {
      const deadline = Date.now() + 60_000
      let ref: string | undefined
      while (ref === undefined) {
        // Once its disk is attached (after the start was blocked, if it is), the VM is worth booting.
        ref = [...sim.db.all('VM')].find(
          ([, r]) => (r.name_label as string).startsWith('[Importing') && (r.VBDs as string[]).length > 0,
        )?.[0]
        if (ref === undefined) {
          assert.ok(
            Date.now() < deadline,
            'the VM being imported, its disk attached, shows up within a minute',
          )
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      }
      await assert.rejects(xapi.call('VM.start', [ref, false, false]), (error: { code?: string }) => {
        assert.equal(error.code, 'OPERATION_BLOCKED')
        return true
      })
    } finally {
      release()
    }
    const made = await importing
    assert.deepEqual((await xapi.getRecord('VM', made.vmRef)).blocked_operations, {})
    assert.equal(await sim.storage.digest(made.vdiRefs.get(vbd.VDI) ?? ''), await digestOf9s())
  })
})

async function digestOf9s(): Promise<string> {
  const { createHash } = await import('node:crypto')
  return createHash('sha256')
    .update(new Uint8Array(2 * MiB).fill(9))
    .update(new Uint8Array(2 * MiB))
    .digest('hex')
}
