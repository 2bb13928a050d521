// A VM made on an SR from the records of a delta backup or a delta export and one block source
// per disk (xen-orchestra-backups.md §4 `importIncrementalVm`, steps 2–8): VM.create with start
// blocked and an '[Importing…]' name, the VDIs (created, or cloned from a base) and their VBDs, the
// content of each disk, the VIFs, then the final name, tags and blocked operations. Restore and
// continuous replication both use it. Any failure or abort destroys everything it created.
import type { Clock } from '../../shared/clock.ts'
import { newUuid } from '../../shared/ids.ts'
import type { Task } from '../../tasks/task.ts'
import type { XapiClient, XapiRef, XapiValue } from '../../xapi/types.ts'
import type { DeltaVmDisk } from './import-disks.ts'
import { createVdi, planDisks } from './import-disks.ts'
import { create, describeDisk, step, textOf } from './import-steps.ts'
import { importVdiContent } from './import-vdi-content.ts'
import type { CreateFields } from './import-records.ts'
import {
  IMPORTING_BLOCKED_OPERATIONS,
  planVbdCreate,
  planVifCreate,
  planVifDevices,
  planVmCreate,
  stringMap,
} from './import-records.ts'
import type { LooseRecord, TargetNetworks, VifNetwork } from './network-mapping.ts'
import { planNetworkMapping } from './network-mapping.ts'
import { progressTo } from './progress.ts'
import { readTargetNetworks } from './target-networks.ts'
import { RestoreError } from './restore-error.ts'
import { describeLeftovers, Rollback } from './rollback.ts'

export type { DeltaVmDisk } from './import-disks.ts'

/** What importDeltaVm makes: the records (as in metadata or a DeltaExport), the disks, and the new VM's attributes. */
export interface DeltaVmImport {
  readonly vmRecord: LooseRecord
  readonly vbds: Readonly<Record<string, LooseRecord>>
  readonly vdis: Readonly<Record<string, LooseRecord>>
  readonly vifs: Readonly<Record<string, LooseRecord>>
  /** The disks to import; a disk VBD whose VDI is not among them is not recreated. */
  readonly disks: readonly DeltaVmDisk[]
  /** The target pool's networks for the VIFs (default: read from `xapi` by readTargetNetworks). */
  readonly networks?: TargetNetworks
  readonly nameLabel: string
  readonly tags: readonly string[]
  /** Keys added to the record's other_config. */
  readonly otherConfig?: Readonly<Record<string, string>>
  /** The blocked operations of the finished VM (default: the record's). */
  readonly finalBlockedOperations?: Readonly<Record<string, string>>
  /** Let XAPI give the VIFs new MACs (and the VM a new mac_seed) instead of keeping the record's. */
  readonly newMacAddresses?: boolean
}

/** Options of importDeltaVm. */
export interface DeltaVmImportOptions {
  /** Aborts the import; what was created is destroyed before the abort is rethrown. */
  readonly signal?: AbortSignal
  /** For the waits between attempts to destroy a busy VDI. */
  readonly clock?: Clock
}

/** The VM importDeltaVm made. */
export interface ImportedDeltaVm {
  readonly vmRef: XapiRef
  /** The new VDI of each imported disk, by its key in `vdis`. */
  readonly vdiRefs: ReadonlyMap<string, XapiRef>
  /** Bytes sent to XAPI for the disks' content. */
  readonly sizeBytes: number
}

async function createVifs(
  xapi: XapiClient,
  rollback: Rollback,
  input: DeltaVmImport,
  vmRef: XapiRef,
  mapping: ReadonlyMap<string, VifNetwork>,
): Promise<void> {
  const devices = planVifDevices(input.vifs)
  for (const [key, vif] of Object.entries(input.vifs)) {
    const networkRef = mapping.get(key)?.networkRef ?? ''
    const record = planVifCreate(vif, {
      vmRef,
      networkRef,
      device: devices.get(key) ?? '0',
      newMac: input.newMacAddresses === true,
    })
    const ref = await create(`creating VIF ${textOf(vif.uuid) ?? key} on network ${networkRef}`, key, () =>
      xapi.call('VIF.create', [record]),
    )
    rollback.add('VIF', ref)
  }
}

/** VM.create (name '[Importing…] …', start blocked right after: XAPI ignores the record's blocked_operations). */
async function createVm(xapi: XapiClient, rollback: Rollback, input: DeltaVmImport): Promise<XapiRef> {
  const otherConfig = { ...stringMap(input.vmRecord.other_config), ...input.otherConfig }
  if (input.newMacAddresses === true) otherConfig.mac_seed = newUuid()
  const vmCreate: CreateFields = planVmCreate(input.vmRecord, {
    nameLabel: `[Importing…] ${input.nameLabel}`,
    tags: [],
    otherConfig,
    blockedOperations: IMPORTING_BLOCKED_OPERATIONS,
  })
  const vmRef = await create(`creating VM ${JSON.stringify(input.nameLabel)}`, input.nameLabel, () =>
    xapi.call('VM.create', [vmCreate]),
  )
  rollback.add('VM', vmRef)
  // XAPI's VM.create ignores the record's blocked_operations (xapi_vm.ml create): block start now,
  // before any disk exists, so the VM cannot be booted while its disks are half-written.
  await step(
    `blocking the start of VM ${JSON.stringify(input.nameLabel)} while it is imported`,
    input.nameLabel,
    () => xapi.call('VM.set_blocked_operations', [vmRef, { ...IMPORTING_BLOCKED_OPERATIONS }]),
  )
  return vmRef
}

/** Each disk's VDI (created or cloned) and the VBDs that attach it to `vmRef`. */
async function createDisks(
  xapi: XapiClient,
  rollback: Rollback,
  input: DeltaVmImport,
  vmRef: XapiRef,
  sizes: ReadonlyMap<string, number>,
  signal: AbortSignal | undefined,
): Promise<Map<string, XapiRef>> {
  const vdiRefs = new Map<string, XapiRef>()
  for (const disk of input.disks) {
    signal?.throwIfAborted()
    const vdi = input.vdis[disk.vdiRef] ?? {}
    const vdiRef = await createVdi(xapi, rollback, disk, vdi, sizes.get(disk.vdiRef) ?? 0)
    vdiRefs.set(disk.vdiRef, vdiRef)
    for (const [key, vbd] of Object.entries(input.vbds)) {
      if (vbd.VDI !== disk.vdiRef) continue
      const record = planVbdCreate(vbd, { vmRef, vdiRef })
      const device = typeof record.userdevice === 'string' ? record.userdevice : '?'
      const ref = await create(`attaching ${describeDisk(disk.vdiRef, vdi)} as device ${device}`, key, () =>
        xapi.call('VBD.create', [record]),
      )
      rollback.add('VBD', ref)
    }
  }
  return vdiRefs
}

/** The content of every disk, one after the other, with one progress over them all on `task`; bytes sent. */
async function importContents(
  xapi: XapiClient,
  input: DeltaVmImport,
  vdiRefs: ReadonlyMap<string, XapiRef>,
  signal: AbortSignal | undefined,
  task: Task,
): Promise<number> {
  const total = input.disks.reduce((sum, d) => sum + d.source.blockIndexes.length * d.source.blockSize, 0)
  let done = 0
  let sizeBytes = 0
  for (const disk of input.disks) {
    signal?.throwIfAborted()
    const before = done
    const share = disk.source.blockIndexes.length * disk.source.blockSize
    const { sizeBytes: sent } = await importVdiContent(
      xapi,
      {
        vdiRef: vdiRefs.get(disk.vdiRef) ?? '',
        source: disk.source,
        ...(signal === undefined ? {} : { signal }),
      },
      progressTo(task, (fraction) => before + fraction * share, total),
    ).catch((error: unknown) => {
      // importVdiContent names the VDI by ref only: say which disk (a source's error names it already).
      if (!(error instanceof RestoreError) || error.code !== 'RESTORE_IMPORT_FAILED') throw error
      throw new RestoreError(
        error.code,
        `${describeDisk(disk.vdiRef, input.vdis[disk.vdiRef])}: ${error.message}`,
        {
          ...(error.details === undefined ? {} : { details: error.details }),
          cause: error.cause,
        },
      )
    })
    done += share
    sizeBytes += sent
  }
  return sizeBytes
}

async function build(
  xapi: XapiClient,
  input: DeltaVmImport,
  rollback: Rollback,
  signal: AbortSignal | undefined,
  task: Task,
): Promise<ImportedDeltaVm> {
  // Everything that can be checked without XAPI is, before the first object is created.
  const sizes = planDisks(input.disks, input.vdis)
  const networks = input.networks ?? (await readTargetNetworks(xapi, signal === undefined ? {} : { signal }))
  const mapping = planNetworkMapping(input.vifs, networks)
  // Creation calls take no signal: a call cut by an abort may still run on the pool, and its
  // object would then be unknown to the rollback. The abort is checked between the steps instead.
  signal?.throwIfAborted()
  const vmRef = await createVm(xapi, rollback, input)
  const vdiRefs = await createDisks(xapi, rollback, input, vmRef, sizes, signal)
  const sizeBytes = await importContents(xapi, input, vdiRefs, signal, task)
  signal?.throwIfAborted()
  await createVifs(xapi, rollback, input, vmRef, mapping)
  signal?.throwIfAborted()
  const blocked: { [op: string]: XapiValue } =
    input.finalBlockedOperations ?? stringMap(input.vmRecord.blocked_operations)
  await step(`finishing VM ${vmRef}`, vmRef, async () => {
    await xapi.call('VM.set_name_label', [vmRef, input.nameLabel])
    await xapi.call('VM.set_tags', [vmRef, [...new Set(input.tags)]])
    await xapi.call('VM.set_blocked_operations', [vmRef, blocked])
  })
  return { vmRef, vdiRefs, sizeBytes }
}

/**
 * Imports a VM from records and disk block sources onto the pool of `xapi`, in XO's order
 * (module comment), the content through importVdiContent with progress on `task`. Inputs are
 * checked before anything is created (RESTORE_INVALID: a disk without VDI record or given twice;
 * RESTORE_NETWORK_UNMAPPED). On any failure or abort, the VIFs, VBDs, VDIs (clones included) and
 * the VM it created are destroyed, then the error is rethrown (RESTORE_IMPORT_FAILED naming what
 * failed; an abort as is unless something could not be destroyed, which the message then lists).
 */
export async function importDeltaVm(
  xapi: XapiClient,
  input: DeltaVmImport,
  options: DeltaVmImportOptions,
  task: Task,
): Promise<ImportedDeltaVm> {
  const rollback = new Rollback(xapi, options.clock)
  const signal = options.signal === undefined ? task.signal : AbortSignal.any([options.signal, task.signal])
  try {
    return await build(xapi, input, rollback, signal, task)
  } catch (error) {
    const leftovers = await rollback.destroyAll()
    if (leftovers.length === 0) throw error
    const reason = error instanceof Error ? error.message : String(error)
    throw new RestoreError('RESTORE_IMPORT_FAILED', `${reason}${describeLeftovers(leftovers)}`, {
      details: { leftovers: leftovers.map((l) => `${l.cls} ${l.ref}`) },
      cause: error,
    })
  }
}
