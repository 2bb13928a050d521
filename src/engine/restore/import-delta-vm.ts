// A VM made on an SR from the records of a delta backup or a delta export and one block source
// per disk (xen-orchestra-backups.md §4 `importIncrementalVm`, steps 2–8): VM.create with start
// blocked and an '[Importing…]' name, the VDIs (created, or cloned from a base) and their VBDs, the
// content of each disk, the VIFs, then the final name, tags and blocked operations. Restore and
// continuous replication both use it. Any failure or abort destroys everything it created.
import type { BlockSource } from '../../formats/block-source.ts'
import type { Clock } from '../../shared/clock.ts'
import { isAbortError } from '../../shared/errors.ts'
import { newUuid } from '../../shared/ids.ts'
import type { Task } from '../../tasks/task.ts'
import type { XapiClient, XapiRef, XapiValue } from '../../xapi/types.ts'
import { importVdiContent } from './import-vdi-content.ts'
import type { CreateFields } from './import-records.ts'
import {
  IMPORTING_BLOCKED_OPERATIONS,
  planVbdCreate,
  planVdiCreate,
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

/** One disk to import: which VDI record of `vdis` it is, its blocks, and where it goes. */
export interface DeltaVmDisk {
  /** The VDI's key in `vdis` (the backup's or the export's VDI ref). */
  readonly vdiRef: string
  readonly source: BlockSource
  readonly srRef: XapiRef
  /** Clone this VDI (grown to the disk's size if smaller) instead of creating an empty one. */
  readonly baseVdiRef?: XapiRef
  /** Keys added to the new VDI's other_config (over the record's). */
  readonly otherConfig?: Readonly<Record<string, string>>
}

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

const textOf = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined)

/** `disk <uuid> "<name>"` of a VDI record, for messages. */
function describeDisk(key: string, vdi: LooseRecord | undefined): string {
  const name = textOf(vdi?.name_label)
  return `disk ${textOf(vdi?.uuid) ?? key}${name === undefined || name === '' ? '' : ` ${JSON.stringify(name)}`}`
}

/** Runs one XAPI step; a failure other than an abort becomes RESTORE_IMPORT_FAILED naming `what`. */
async function step<T>(what: string, object: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (isAbortError(error) || error instanceof RestoreError) throw error
    const code = (error as { code?: unknown }).code
    const reason = error instanceof Error ? error.message : String(error)
    const shown = typeof code === 'string' && !reason.includes(code) ? `${code}: ${reason}` : reason
    throw new RestoreError('RESTORE_IMPORT_FAILED', `${what} failed: ${shown}`, {
      details: { object },
      cause: error,
    })
  }
}

/** Runs a constructor call as a step; its answer must be a ref (RESTORE_IMPORT_FAILED otherwise). */
async function create(what: string, object: string, call: () => Promise<XapiValue>): Promise<XapiRef> {
  const ref = await step(what, object, call)
  if (typeof ref !== 'string' || !ref.startsWith('OpaqueRef:'))
    throw new RestoreError(
      'RESTORE_IMPORT_FAILED',
      `${what}: XAPI answered ${JSON.stringify(ref).slice(0, 100)}, not a ref`,
      {
        details: { object },
      },
    )
  return ref
}

/** Checks every disk against the records before anything is created; returns each disk's VDI size. */
function planDisks(input: DeltaVmImport): Map<string, number> {
  const sizes = new Map<string, number>()
  for (const disk of input.disks) {
    const vdi = input.vdis[disk.vdiRef]
    if (vdi === undefined)
      throw new RestoreError(
        'RESTORE_INVALID',
        `disk ${disk.vdiRef}: no VDI record with this ref in the records`,
        {
          details: { object: disk.vdiRef },
        },
      )
    if (sizes.has(disk.vdiRef))
      throw new RestoreError('RESTORE_INVALID', `${describeDisk(disk.vdiRef, vdi)}: given twice`, {
        details: { object: disk.vdiRef },
      })
    const recorded = vdi.virtual_size
    const size = typeof recorded === 'number' && Number.isSafeInteger(recorded) ? recorded : 0
    // The VDI must hold the whole source; SM may round the size up, never down.
    sizes.set(disk.vdiRef, Math.max(size, disk.source.virtualSize))
  }
  return sizes
}

async function createVdi(
  xapi: XapiClient,
  rollback: Rollback,
  disk: DeltaVmDisk,
  vdi: LooseRecord,
  sizeBytes: number,
): Promise<XapiRef> {
  const otherConfig = { ...stringMap(vdi.other_config), ...disk.otherConfig }
  const name = describeDisk(disk.vdiRef, vdi)
  if (disk.baseVdiRef === undefined) {
    const record = planVdiCreate(vdi, { srRef: disk.srRef, virtualSizeBytes: sizeBytes, otherConfig })
    const ref = await create(`creating the VDI of ${name} on SR ${disk.srRef}`, name, () =>
      xapi.call('VDI.create', [record]),
    )
    rollback.add('VDI', ref)
    return ref
  }
  const base = disk.baseVdiRef
  const ref = await create(`cloning VDI ${base} for ${name}`, name, () => xapi.call('VDI.clone', [base, {}]))
  rollback.add('VDI', ref)
  const clone = await step(`reading the clone of VDI ${base}`, name, () => xapi.getRecord('VDI', ref))
  if (clone.virtual_size < sizeBytes)
    await step(`growing the clone of VDI ${base} to ${sizeBytes} bytes`, name, () =>
      xapi.call('VDI.resize', [ref, sizeBytes]),
    )
  for (const [key, value] of Object.entries(otherConfig)) {
    await step(`setting other_config.${key} of the clone of VDI ${base}`, name, async () => {
      await xapi.call('VDI.remove_from_other_config', [ref, key])
      await xapi.call('VDI.add_to_other_config', [ref, key, value])
    })
  }
  return ref
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

async function build(
  xapi: XapiClient,
  input: DeltaVmImport,
  rollback: Rollback,
  signal: AbortSignal | undefined,
  task: Task,
): Promise<ImportedDeltaVm> {
  // Everything that can be checked without XAPI is, before the first object is created.
  const sizes = planDisks(input)
  const networks = input.networks ?? (await readTargetNetworks(xapi, signal === undefined ? {} : { signal }))
  const mapping = planNetworkMapping(input.vifs, networks)
  const otherConfig = { ...stringMap(input.vmRecord.other_config), ...input.otherConfig }
  if (input.newMacAddresses === true) otherConfig.mac_seed = newUuid()
  const vmCreate: CreateFields = planVmCreate(input.vmRecord, {
    nameLabel: `[Importing…] ${input.nameLabel}`,
    tags: [],
    otherConfig,
    blockedOperations: IMPORTING_BLOCKED_OPERATIONS,
  })
  // Creation calls take no signal: a call cut by an abort may still run on the pool, and its
  // object would then be unknown to the rollback. The abort is checked between the steps instead.
  signal?.throwIfAborted()
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
  const total = input.disks.reduce((sum, d) => sum + d.source.blockIndexes.length * d.source.blockSize, 0)
  let done = 0
  let sizeBytes = 0
  for (const disk of input.disks) {
    signal?.throwIfAborted()
    const vdiRef = vdiRefs.get(disk.vdiRef) ?? ''
    const before = done
    const share = disk.source.blockIndexes.length * disk.source.blockSize
    const { sizeBytes: sent } = await importVdiContent(
      xapi,
      { vdiRef, source: disk.source, ...(signal === undefined ? {} : { signal }) },
      progressTo(task, (fraction) => before + fraction * share, total),
    ).catch((error: unknown) => {
      // importVdiContent names the VDI by ref only: say which disk (a source's error names it already).
      if (error instanceof RestoreError && error.code === 'RESTORE_IMPORT_FAILED')
        throw new RestoreError(
          error.code,
          `${describeDisk(disk.vdiRef, input.vdis[disk.vdiRef])}: ${error.message}`,
          {
            ...(error.details === undefined ? {} : { details: error.details }),
            cause: error.cause,
          },
        )
      throw error
    })
    done += share
    sizeBytes += sent
  }
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
