// Pure planning of the VM run: base selection (reference §3.2) and snapshot retention (§3.1).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { VdiRecord, VmRecord } from '../../xapi/types.ts'
import { applyTargetVerdicts, baseCandidates, planBases, recheckSizes } from './base-selection.ts'
import type { JobSnapshot, VmDisk } from './job-snapshots.ts'
import { planSnapshotRetention } from './snapshot-retention.ts'

const disk = (n: number, size = 4096): VmDisk => ({
  vbdRef: `vbd-${n}`,
  vbd: {} as never,
  ref: `live-${n}`,
  record: { uuid: `live-uuid-${n}`, name_label: `disk ${n}`, virtual_size: size } as VdiRecord,
})

function snapshot(
  timeMs: number,
  options: { exported?: boolean; schedule?: string; disks?: [number, number, string?][] } = {},
): JobSnapshot {
  return {
    datetime: `t${timeMs}`,
    timeMs,
    scheduleId: options.schedule ?? 'S',
    vm: { ref: `vm-${timeMs}`, record: {} as VmRecord },
    vdis: (options.disks ?? []).map(([n, size, chain]) => ({
      ref: `snap-${timeMs}-${n}`,
      record: {
        uuid: `snap-uuid-${timeMs}-${n}`,
        snapshot_of: `live-${n}`,
        virtual_size: size,
        other_config: chain === undefined ? {} : { 'xo:backup:deltaChainLength': chain },
      } as unknown as VdiRecord,
    })),
    exported: options.exported ?? true,
  }
}

describe('planBases', () => {
  it('uses the newest exported group only, per disk', () => {
    const snapshots = [
      snapshot(1, { disks: [[1, 4096, '3']] }),
      snapshot(2, { disks: [[1, 4096, '0']] }),
      snapshot(3, { exported: false, disks: [[1, 4096]] }),
    ]
    const plan = planBases([disk(1), disk(2)], snapshots, 0)
    assert.deepEqual(plan[0]?.base, {
      ref: 'snap-2-1',
      uuid: 'snap-uuid-2-1',
      virtualSize: 4096,
      chainLength: 0,
    })
    assert.equal(plan[1]?.full?.code, 'new-disk')
    assert.deepEqual([...baseCandidates(plan)], [['snap-uuid-2-1', 'live-uuid-1']])
  })

  it('gives no-base on a first run, resized on a size change, full-interval at the boundary', () => {
    assert.equal(planBases([disk(1)], [], 0)[0]?.full?.code, 'no-base')
    assert.equal(
      planBases([disk(1, 8192)], [snapshot(1, { disks: [[1, 4096]] })], 0)[0]?.full?.code,
      'resized',
    )
    const chain = (length: string, interval: number) =>
      planBases([disk(1)], [snapshot(1, { disks: [[1, 4096, length]] })], interval)[0]?.full?.code
    assert.equal(chain('0', 1), 'full-interval', 'fullInterval 1: always full')
    assert.equal(chain('0', 2), undefined)
    assert.equal(chain('1', 2), 'full-interval')
    assert.equal(chain('9', 0), undefined, 'fullInterval 0: never forced')
    assert.equal(chain('garbage', 2), undefined, 'a malformed length reads as 0')
  })

  it('a base a target removed (or changed) is full, naming the target', () => {
    const plan = planBases(
      [disk(1), disk(2)],
      [
        snapshot(1, {
          disks: [
            [1, 4096],
            [2, 4096],
          ],
        }),
      ],
      0,
    )
    const survivors = new Map([['snap-uuid-1-2', 'live-uuid-2']])
    const after = applyTargetVerdicts(plan, survivors, new Map([['snap-uuid-1-1', ['remote R']]]))
    assert.deepEqual(after[0]?.full, {
      code: 'refused',
      reason: 'remote R cannot chain onto base snapshot VDI snap-uuid-1-1',
    })
    assert.equal(after[1]?.base?.uuid, 'snap-uuid-1-2')
    const moved = applyTargetVerdicts(plan, new Map([['snap-uuid-1-2', 'live-uuid-1']]), new Map())
    assert.equal(moved[1]?.full?.code, 'refused', 'a base remapped to another disk is not trusted')
    assert.equal(recheckSizes(after, new Map([['live-uuid-2', 1]]))[1]?.full?.code, 'resized')
  })
})

describe('planSnapshotRetention', () => {
  it('keeps N datetimes per schedule and whatever is in keep', () => {
    const a1 = snapshot(1, { schedule: 'A' })
    const a2 = snapshot(2, { schedule: 'A' })
    const a3 = snapshot(3, { schedule: 'A' })
    const b4 = snapshot(4, { schedule: 'B' })
    const b5 = snapshot(5, { schedule: 'B' })
    const all = [a1, a2, a3, b4, b5]
    const retention = (id: string) => (id === 'A' ? 2 : 0)
    assert.deepEqual(planSnapshotRetention(all, retention, new Set()), [a1, b4, b5])
    assert.deepEqual(planSnapshotRetention(all, retention, new Set([b5])), [a1, b4])
    assert.throws(() => planSnapshotRetention(all, () => -1, new Set()), /expected an integer >= 0, got -1/)
  })
})
