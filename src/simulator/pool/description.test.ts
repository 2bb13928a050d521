import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { SimulatorDb } from '../db.ts'
import { buildPool } from './build.ts'
import { DEMO_POOL } from './demo.ts'
import { PoolDescriptionError, readPoolDescription, validatePoolDescription } from './description.ts'

const fixture = fileURLToPath(new URL('../../../test/fixtures/simulator/pool.yaml', import.meta.url))

describe('pool descriptions', () => {
  it('loads the YAML fixture into hosts, SRs, networks and VMs with consistent bound fields', async () => {
    const db = new SimulatorDb()
    const description = await readPoolDescription(fixture)
    assert.deepEqual(description.vms[0]?.disks?.[1]?.content, {
      seed: 2,
      allocatedFraction: 0.3,
      pattern: 'text',
    })
    const built = buildPool(db, description, 0)
    assert.equal(db.all('host').length, 2)
    const pool = db.get('pool', built.pool)
    assert.equal(pool.master, built.hosts.get('lab-1'))
    assert.equal(pool.default_SR, built.srs.get('lab-nfs'))
    const app = db.get('VM', built.vms.get('app') ?? '')
    assert.equal(app.power_state, 'Running')
    assert.equal(app.resident_on, built.hosts.get('lab-2'))
    assert.ok(
      (db.get('host', built.hosts.get('lab-2') ?? '').resident_VMs as string[]).includes(
        built.vms.get('app') ?? '',
      ),
      "(db.get('host', built.hosts.get('lab-2') ?? '').resident_VMs as string[]).includes( built.vms.get...",
    )
    assert.equal((app.VBDs as string[]).length, 2)
    for (const vbd of app.VBDs as string[]) {
      const vdi = db.get('VBD', vbd).VDI as string
      assert.ok(
        (db.get('VDI', vdi).VBDs as string[]).includes(vbd),
        "(db.get('VDI', vdi).VBDs as string[]).includes(vbd)",
      )
      assert.ok(
        (db.get('SR', db.get('VDI', vdi).SR as string).VDIs as string[]).includes(vdi),
        "(db.get('SR', db.get('VDI', vdi).SR as string).VDIs as string[]).includes(vdi)",
      )
      assert.equal(db.get('VBD', vbd).currently_attached, true)
    }
    assert.deepEqual(db.get('network', built.networks.get('lab-nbd') ?? '').purpose, ['nbd'])
    assert.equal((app.VIFs as string[]).length, 2)
    assert.deepEqual(db.get('VM', built.vms.get('replica') ?? '').blocked_operations, {
      start: 'This VM is a replica',
    })
    // Each host has a running control domain; the shared SR is plugged on both hosts.
    for (const host of built.hosts.values()) {
      const dom0 = db.get('VM', db.get('host', host).control_domain as string)
      assert.equal(dom0.is_control_domain, true)
      assert.equal(dom0.power_state, 'Running')
    }
    assert.equal((db.get('SR', built.srs.get('lab-nfs') ?? '').PBDs as string[]).length, 2)
  })

  it('the demo pool has running and halted VMs with one to three disks each', () => {
    const db = new SimulatorDb()
    const built = buildPool(db, DEMO_POOL, 0)
    const states = new Set<unknown>()
    for (const ref of built.vms.values()) {
      const vm = db.get('VM', ref)
      states.add(vm.power_state)
      const disks = (vm.VBDs as string[]).length
      assert.ok(disks >= 1 && disks <= 3, `${JSON.stringify(vm.name_label)} has ${disks} disks`)
    }
    assert.deepEqual(states, new Set(['Running', 'Halted']))
  })

  it('the demo pool gives every disk seeded content and names one disk [NOBAK]', () => {
    const db = new SimulatorDb()
    const filled = new Map<string, number>()
    buildPool(db, DEMO_POOL, 0, (vdi, content) => filled.set(vdi, content.allocatedFraction))
    const disks = db.all('VDI')
    assert.equal(filled.size, disks.length)
    for (const [ref, vdi] of disks) {
      const fraction = filled.get(ref) ?? 0
      assert.ok(fraction >= 0.1 && fraction <= 0.5, `${vdi.name_label as string} at ${fraction}`)
      assert.ok(
        (vdi.virtual_size as number) <= 4 * 1024 ** 3,
        '(vdi.virtual_size as number) <= 4 * 1024 ** 3',
      )
    }
    assert.equal(disks.filter(([, vdi]) => (vdi.name_label as string).includes('[NOBAK]')).length, 1)
    assert.doesNotThrow(() => validatePoolDescription(DEMO_POOL))
  })

  it('names the field, expectation and value of a bad description', () => {
    assert.throws(
      () =>
        validatePoolDescription(
          { hosts: [{ name: 'h' }], vms: [{ name: 'v', disks: [{ sizeBytes: -1 }] }] },
          'p.yaml',
        ),
      (error: unknown) =>
        error instanceof PoolDescriptionError &&
        /p\.yaml: vms\[0\]\.disks\[0\]\.sizeBytes: expected a byte count, got -1/.test(error.message),
    )
    assert.throws(() => validatePoolDescription({ hosts: [] }), /hosts: expected at least one host/)
    assert.throws(
      () =>
        buildPool(
          new SimulatorDb(),
          { hosts: [{ name: 'h' }], srs: [], networks: [], vms: [{ name: 'v', networks: ['nope'] }] },
          0,
        ),
      /vms\[0\]\.networks\[0\]: expected one of , got "nope"/,
    )
  })
})
