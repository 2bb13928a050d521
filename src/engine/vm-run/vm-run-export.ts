// The export step of a VM run (xen-orchestra-backups.md §3.1 step 6): matches the snapshot's disks
// with the base plan, exports to every live target (delta or full), and marks the snapshot
// exported with each disk's chain length once a target has it.
import type { Task } from '../../tasks/task.ts'
import type { VbdRecord, VdiRecord, VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'
import type { ExportedVif, VmRunContext } from '../backup-target.ts'
import type { DiskPlan } from './base-selection.ts'
import { recheckSizes } from './base-selection.ts'
import type { DeltaDiskToExport } from './export-delta.ts'
import { exportDelta } from './export-delta.ts'
import { exportFull } from './export-full.ts'
import { markExported } from './snapshot-attributes.ts'
import type { TargetSet } from './target-set.ts'
import type { RateLimiter } from '../rate-limit.ts'
import type { Compression } from '../run-description.ts'
import type { VmRunSources } from './sources.ts'
import type { TakenSnapshot } from './vm-run-steps.ts'
import { VmRunError } from './vm-run-error.ts'

const NULL_REF = 'OpaqueRef:NULL'

/**
 * A VIF's record with its network's uuid, name and VLAN (XO's `$network$*` fields): what a
 * restore on another pool maps networks by. A network without PIF has no VLAN (left out).
 */
async function exportedVif(xapi: XapiClient, ref: XapiRef, signal: AbortSignal): Promise<ExportedVif> {
  const vif = await xapi.getRecord('VIF', ref, { signal })
  const network = await xapi.getRecord('network', vif.network, { signal })
  const [pif] = network.PIFs
  const vlan = pif === undefined ? undefined : Number(await xapi.call('PIF.get_VLAN', [pif], { signal }))
  return {
    ...vif,
    $network$uuid: network.uuid,
    $network$name_label: network.name_label,
    ...(vlan === undefined || !Number.isInteger(vlan) ? {} : { $network$VLAN: vlan }),
  }
}

/** What exportSnapshot needs from the run. */
export interface ExportStepInput {
  readonly input: {
    readonly xapi: XapiClient
    readonly job: { readonly mode: 'full' | 'delta'; readonly compression?: Compression }
    readonly sources: VmRunSources
    readonly rateLimiter?: RateLimiter
  }
  readonly targets: TargetSet
  readonly context: VmRunContext
  readonly live: { readonly ref: XapiRef; readonly record: VmRecord }
  /** Undefined only in full mode when the halted VM itself is exported. */
  readonly snapshot: TakenSnapshot | undefined
  readonly plan: readonly DiskPlan[]
  readonly signal: AbortSignal
  /** Logs the final plan's full disks (before any transfer). */
  readonly log: (plan: readonly DiskPlan[]) => void
}

/** One exported disk: its plan and the snapshot VDI. */
interface Matched {
  readonly plan: DiskPlan
  readonly vbdRef: XapiRef
  readonly vbd: VbdRecord
  readonly ref: XapiRef
  readonly record: VdiRecord
}

/**
 * The snapshot's disks matched to the plan by `snapshot_of`: a disk of the snapshot the plan
 * does not know (added meanwhile) is full; a planned disk the snapshot lacks is left out with a
 * warning (XO's "inconsistent snapshot tagging"); a size changed meanwhile makes the disk full.
 */
async function match(
  xapi: XapiClient,
  snapshot: TakenSnapshot,
  plan: readonly DiskPlan[],
  task: Task,
): Promise<Matched[]> {
  const sizes = new Map(snapshot.disks.map((d) => [d.record.snapshot_of, d.record.virtual_size] as const))
  const checked = recheckSizes(
    plan,
    new Map(
      plan.flatMap((p) =>
        sizes.has(p.liveVdiRef) ? [[p.liveVdiUuid, sizes.get(p.liveVdiRef) as number] as const] : [],
      ),
    ),
  )
  for (const p of checked)
    if (!snapshot.disks.some((d) => d.record.snapshot_of === p.liveVdiRef))
      task.warning(`disk ${p.name} (${p.liveVdiUuid}) is missing from the snapshot: not in this backup`, {
        vdi: p.liveVdiUuid,
      })
  const matched: Matched[] = []
  for (const disk of snapshot.disks) {
    const p: DiskPlan = checked.find((known) => known.liveVdiRef === disk.record.snapshot_of) ?? {
      liveVdiRef: disk.record.snapshot_of,
      liveVdiUuid: (await xapi.getRecord('VDI', disk.record.snapshot_of)).uuid,
      name: disk.record.name_label,
      base: undefined,
      full: { code: 'new-disk', reason: 'added to the VM while its backup started' },
    }
    matched.push({ plan: p, vbdRef: disk.vbdRef, vbd: disk.vbd, ref: disk.ref, record: disk.record })
  }
  return matched
}

/**
 * Exports the snapshot (or, in full mode without one, the VM) to every live target and marks it
 * exported; returns the final plan of the exported disks.
 */
export async function exportSnapshot(step: ExportStepInput, task: Task): Promise<DiskPlan[]> {
  const { input, targets, context, snapshot, signal } = step
  const { xapi } = input
  const common = { xapi, sources: input.sources, rateLimiter: input.rateLimiter, signal, targets, context }
  if (input.job.mode === 'full') {
    await exportFull(
      {
        ...common,
        exportRef: snapshot?.ref ?? step.live.ref,
        vmSnapshot: snapshot?.record ?? step.live.record,
        compression: input.job.compression ?? '',
      },
      task,
    )
    if (snapshot !== undefined)
      await markExported(
        xapi,
        { vmRef: snapshot.ref, disks: snapshot.disks.map((d) => ({ ref: d.ref, chainLength: 0 })) },
        signal,
      )
    return [...step.plan]
  }
  if (snapshot === undefined) throw new VmRunError('VM_SNAPSHOT_INVALID', 'a delta backup needs a snapshot')
  const matched = await match(xapi, snapshot, step.plan, task)
  const plan = matched.map((m) => m.plan)
  step.log(plan)
  const disks: DeltaDiskToExport[] = matched.map((m) => ({
    snapshotVdiRef: m.ref,
    liveVdiUuid: m.plan.liveVdiUuid,
    base: m.plan.base,
  }))
  const vdis: Record<string, VdiRecord> = Object.fromEntries(matched.map((m) => [m.ref, m.record]))
  const memory = snapshot.record.suspend_VDI
  if (memory !== NULL_REF) {
    // A checkpoint's memory: exported whole as one more disk, in its own chain folder (no live VDI).
    const record = await xapi.getRecord('VDI', memory, { signal })
    vdis[memory] = record
    disks.push({ snapshotVdiRef: memory, liveVdiUuid: record.uuid, base: undefined })
  }
  const vifs: Record<string, ExportedVif> = {}
  for (const ref of snapshot.record.VIFs) vifs[ref] = await exportedVif(xapi, ref, signal)
  await exportDelta(
    {
      ...common,
      records: {
        vmSnapshot: snapshot.record,
        vbds: Object.fromEntries(matched.map((m) => [m.vbdRef, m.vbd])),
        vdis,
        vifs,
      },
      disks,
      onTransferred: () =>
        markExported(
          xapi,
          {
            vmRef: snapshot.ref,
            disks: matched.map((m) => ({
              ref: m.ref,
              chainLength: m.plan.base === undefined ? 0 : m.plan.base.chainLength + 1,
            })),
          },
          signal,
        ),
    },
    task,
  )
  return plan
}
