import type { SimulatorDb } from '../db.ts'
import { bootVm, createVbd, createVdi, createVif, createVm } from '../objects.ts'
import type { DiskContent, VmDescription } from './description.ts'

const MiB = 1024 * 1024

/** What building one VM needs from the pool built so far. */
export interface VmBuildContext {
  readonly db: SimulatorDb
  readonly nowMs: number
  readonly master: string
  readonly defaultSr: string
  readonly hosts: ReadonlyMap<string, string>
  readonly srs: ReadonlyMap<string, string>
  readonly networks: ReadonlyMap<string, string>
  readonly lookup: (map: ReadonlyMap<string, string>, name: string, path: string) => string
  /** Writes a disk's described content (absent: contents are left empty). */
  readonly fillContent: ((vdi: string, content: DiskContent) => void) | undefined
}

/** Creates a described VM with its VDIs, VBDs and VIFs, booted when described as Running. */
export function buildVm(vm: VmDescription, path: string, ctx: VmBuildContext): string {
  const { db, lookup } = ctx
  const memory = vm.memoryBytes ?? 1024 * MiB
  const ref = createVm(
    db,
    {
      name_label: vm.name,
      name_description: vm.description ?? '',
      is_a_template: vm.isTemplate ?? false,
      memory_static_max: memory,
      memory_dynamic_max: memory,
      memory_dynamic_min: memory,
      memory_static_min: Math.min(memory, 512 * MiB),
      VCPUs_max: vm.vcpus ?? 1,
      VCPUs_at_startup: vm.vcpus ?? 1,
      tags: [...(vm.tags ?? [])],
      other_config: { ...(vm.otherConfig ?? {}) },
      blocked_operations: { ...(vm.blockedOperations ?? {}) },
    },
    ctx.nowMs,
  )
  ;(vm.disks ?? []).forEach((disk, i) => {
    const sr = disk.sr === undefined ? ctx.defaultSr : lookup(ctx.srs, disk.sr, `${path}.disks[${i}].sr`)
    const vdi = createVdi(db, {
      name_label: disk.name ?? `${vm.name} disk ${i}`,
      SR: sr,
      virtual_size: disk.sizeBytes,
      type: 'user',
    })
    if (disk.content !== undefined) ctx.fillContent?.(vdi, disk.content)
    createVbd(db, {
      VM: ref,
      VDI: vdi,
      userdevice: String(i),
      bootable: i === 0,
      mode: 'RW',
      type: 'Disk',
      empty: false,
    })
  })
  ;(vm.networks ?? []).forEach((name, i) => {
    const network = lookup(ctx.networks, name, `${path}.networks[${i}]`)
    createVif(db, { VM: ref, network, device: String(i), MAC: '', MTU: 1500 })
  })
  if (vm.powerState === 'Running' || vm.powerState === 'Paused') {
    const host = vm.host === undefined ? ctx.master : lookup(ctx.hosts, vm.host, `${path}.host`)
    bootVm(db, ref, host, ctx.nowMs)
    if (vm.powerState === 'Paused') db.update('VM', ref, { power_state: 'Paused' })
  } else if (vm.powerState === 'Suspended') {
    db.update('VM', ref, { power_state: 'Suspended' })
  }
  return ref
}
