// Guest tools timing of the simulator (xapi.md §2.6, §8.3, §8.6 health check): after VM.start the
// VM's PV_drivers_detected stays false until `pvDriversDelayMs` passed on the simulator's clock,
// then turns true as a `mod` of its VM_guest_metrics; pvDrivers false means never. Driven through
// the project's XAPI client with a clock the test moves by hand.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { GuestOptionError, startSimulator } from '../../src/simulator/index.ts'
import type { RunningSimulator } from '../../src/simulator/index.ts'
import { DATA_POOL } from '../../src/simulator/testing/data-plane.ts'
import type { ManualClock } from '../../src/simulator/testing/manual-clock.ts'
import { createManualClock } from '../../src/simulator/testing/manual-clock.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'

const HEALTH_KEY = 'vm-data/xo-backup-health-check'

describe('simulator guest tools timing', () => {
  let sim: RunningSimulator
  let client: HttpXapiClient
  let clock: ManualClock
  const vm = (): string => sim.pool.vms.get('diskless') ?? assert.fail('no VM diskless')

  const guestMetrics = async (): Promise<string> =>
    (await client.call('VM.get_guest_metrics', [vm()])) as string
  const pvDetected = async (): Promise<unknown> =>
    ((await client.call('VM_guest_metrics.get_record', [await guestMetrics()])) as Record<string, unknown>)
      .PV_drivers_detected
  const healthAnswer = async (): Promise<unknown> =>
    (await client.getRecord('VM', vm())).xenstore_data[HEALTH_KEY]

  before(async () => {
    clock = createManualClock()
    sim = await startSimulator({ pool: DATA_POOL, clock, guest: { pvDriversDelayMs: 2000 } })
    client = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password })
    await client.connect()
  })
  after(async () => {
    await client.disconnect()
    await sim.close()
  })

  it('PV drivers appear only once the delay has passed on the clock, as a mod event; the health check answers with them', async () => {
    await client.call('VM.add_to_xenstore_data', [vm(), HEALTH_KEY, 'planned'])
    const { token } = await client.eventFrom(['VM_guest_metrics'], '', 0)
    await client.call('VM.start', [vm(), false, false])
    const booted = await client.eventFrom(['VM_guest_metrics'], token, 0)
    const metrics = await guestMetrics()
    assert.deepEqual(
      booted.events.map((e) => [e.operation, e.ref]),
      [['add', metrics]],
    )
    assert.equal(await pvDetected(), false)
    assert.equal(await healthAnswer(), 'planned', 'the guest agent answers with the tools, not before')
    clock.advance(1999)
    assert.equal(await pvDetected(), false, 'one millisecond short of the delay')
    const waiting = client.eventFrom(['VM_guest_metrics'], booted.token, 60)
    clock.advance(1)
    const tools = await waiting
    assert.deepEqual(
      tools.events.map((e) => [
        e.operation,
        e.ref,
        (e.snapshot as { PV_drivers_detected?: unknown }).PV_drivers_detected,
      ]),
      [['mod', metrics, true]],
    )
    assert.equal(await pvDetected(), true)
    assert.equal(await healthAnswer(), 'success')
    await client.call('VM.hard_shutdown', [vm()])
  })

  it('setGuestBehaviour: pvDrivers false means never, for VMs booted after the call; back to a delay after', async () => {
    sim.setGuestBehaviour({ pvDrivers: false })
    await client.call('VM.start', [vm(), false, false])
    assert.equal(clock.sleepers, 0, 'no tools timer for a guest without tools')
    clock.advance(3_600_000)
    assert.equal(await pvDetected(), false)
    await client.call('VM.hard_shutdown', [vm()])
    sim.setGuestBehaviour({ pvDrivers: true, pvDriversDelayMs: 0 })
    await client.call('VM.start', [vm(), false, false])
    assert.equal(await pvDetected(), true, 'no delay: tools at boot')
    await client.call('VM.hard_shutdown', [vm()])
  })

  it('a halt cancels the pending timer; a restart gets a fresh one, whose boot alone it serves', async () => {
    sim.setGuestBehaviour({ pvDrivers: true, pvDriversDelayMs: 5000 })
    await client.call('VM.start', [vm(), false, false])
    assert.equal(clock.sleepers, 1)
    await client.call('VM.hard_shutdown', [vm()])
    assert.equal(clock.sleepers, 0, 'VM.hard_shutdown cancels the tools timer')
    await client.call('VM.start', [vm(), false, false])
    clock.advance(4000)
    await client.call('VM.clean_shutdown', [vm()])
    assert.equal(clock.sleepers, 0, 'VM.clean_shutdown cancels it too')
    await client.call('VM.start', [vm(), false, false])
    clock.advance(4999)
    assert.equal(await pvDetected(), false, 'the earlier boots do not count')
    await client.call('VM.hard_shutdown', [vm()])
  })

  it('close cancels pending timers', async () => {
    const otherClock = createManualClock()
    const other = await startSimulator({
      pool: DATA_POOL,
      clock: otherClock,
      guest: { pvDriversDelayMs: 1000 },
    })
    const otherClient = new HttpXapiClient({ url: other.url, user: other.username, password: other.password })
    try {
      await otherClient.connect()
      await otherClient.call('VM.start', [other.pool.vms.get('diskless') ?? '', false, false])
      assert.equal(otherClock.sleepers, 1)
    } finally {
      await otherClient.disconnect()
      await other.close()
    }
    assert.equal(otherClock.sleepers, 0, 'the tools timer went with the simulator')
  })

  it('hostile guest options are refused with SIMULATOR_GUEST_OPTION_INVALID', async () => {
    for (const bad of [
      { pvDriversDelayMs: -1 },
      { pvDriversDelayMs: Number.NaN },
      { pvDriversDelayMs: '5' },
      { pvDrivers: 'yes' },
      { healthCheck: 'maybe' },
    ]) {
      assert.throws(
        () => {
          sim.setGuestBehaviour(bad as never)
        },
        (error: unknown) =>
          error instanceof Error && (error as { code?: unknown }).code === 'SIMULATOR_GUEST_OPTION_INVALID',
        JSON.stringify(bad),
      )
    }
    await assert.rejects(
      startSimulator({ pool: DATA_POOL, guest: { pvDriversDelayMs: Number.POSITIVE_INFINITY } }),
      (error: unknown) => error instanceof GuestOptionError && /pvDriversDelayMs/.test(error.message),
    )
  })
})
