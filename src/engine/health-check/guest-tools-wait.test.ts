import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { XapiValue } from '../../xapi/types.ts'
import type { StaleMetrics, WatchedVm } from './guest-tools-wait.ts'
import { guestToolsPhase } from './guest-tools-wait.ts'
import { HealthCheckError } from './health-check-error.ts'

const VM: WatchedVm = { ref: 'OpaqueRef:vm', uuid: '11111111-2222-4333-8444-555555555555', name: 'restored' }
const GM = 'OpaqueRef:gm'
type Fields = { readonly [field: string]: XapiValue }

const metrics =
  (fields: Fields): ((ref: string) => Fields | undefined) =>
  (ref) =>
    ref === GM ? fields : undefined
const fresh = metrics({ PV_drivers_detected: true, last_updated: '20260101T00:05:00Z' })

describe('guestToolsPhase', () => {
  const table: readonly [
    string,
    Fields,
    (ref: string) => Fields | undefined,
    StaleMetrics | undefined,
    string,
  ][] = [
    ['running with PV drivers', { power_state: 'Running', guest_metrics: GM }, fresh, undefined, 'ready'],
    [
      'running, no metrics yet',
      { power_state: 'Running', guest_metrics: 'OpaqueRef:NULL' },
      fresh,
      undefined,
      'no-pv-drivers',
    ],
    [
      'running, metrics ref not seen yet',
      { power_state: 'Running', guest_metrics: 'OpaqueRef:other' },
      fresh,
      undefined,
      'no-pv-drivers',
    ],
    [
      'running, drivers not detected',
      { power_state: 'Running', guest_metrics: GM },
      metrics({ PV_drivers_detected: false }),
      undefined,
      'no-pv-drivers',
    ],
    [
      'a non-boolean "true" is not a detection',
      { power_state: 'Running', guest_metrics: GM },
      metrics({ PV_drivers_detected: 'true' }),
      undefined,
      'no-pv-drivers',
    ],
    ['paused', { power_state: 'Paused', guest_metrics: GM }, fresh, undefined, 'not-running'],
    ['a power state missing', { guest_metrics: GM }, fresh, undefined, 'not-running'],
    [
      'a power state of the wrong type',
      { power_state: 1, guest_metrics: GM },
      fresh,
      undefined,
      'not-running',
    ],
    [
      'a guest_metrics field of the wrong type',
      { power_state: 'Running', guest_metrics: 7 },
      fresh,
      undefined,
      'no-pv-drivers',
    ],
    [
      'metrics copied from before the boot prove nothing',
      { power_state: 'Running', guest_metrics: GM },
      fresh,
      { ref: GM, lastUpdated: '20260101T00:05:00Z' },
      'no-pv-drivers',
    ],
    [
      'the same metrics updated since the boot count',
      { power_state: 'Running', guest_metrics: GM },
      fresh,
      { ref: GM, lastUpdated: '20251231T23:00:00Z' },
      'ready',
    ],
    [
      'new metrics count',
      { power_state: 'Running', guest_metrics: GM },
      fresh,
      { ref: 'OpaqueRef:old', lastUpdated: '20260101T00:05:00Z' },
      'ready',
    ],
  ]
  for (const [what, record, lookup, stale, expected] of table) {
    it(what, () => {
      assert.equal(guestToolsPhase(VM, record, lookup, stale), expected)
    })
  }

  for (const state of ['Halted', 'Suspended']) {
    it(`a VM ${state} while awaited fails HEALTH_CHECK_VM_STOPPED, named`, () => {
      assert.throws(
        () => guestToolsPhase(VM, { power_state: state, guest_metrics: GM }, fresh, undefined),
        (error: unknown) =>
          error instanceof HealthCheckError &&
          error.code === 'HEALTH_CHECK_VM_STOPPED' &&
          error.message === `restored (${VM.uuid}) became ${state} while its guest tools were awaited`,
      )
    })
  }
})
