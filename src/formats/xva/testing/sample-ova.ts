import type { OvaDocument, OvaObject } from '../ova-xml.ts'
import { XmlRpcDateTime, XmlRpcDouble } from '../ova-xml.ts'

/**
 * A minimal but XAPI-shaped ova.xml graph: a VM, its SR, and one VBD + VDI per disk size, with
 * ids `Ref:<n>` (disks from Ref:10 on, so that string order differs from numeric order).
 */
export function sampleOva(diskSizes: readonly number[]): OvaDocument {
  const vdis: OvaObject[] = diskSizes.map((size, i) => ({
    class: 'VDI',
    id: `Ref:${10 - diskSizes.length + i + 1 + (i % 2) * 10}`,
    snapshot: {
      uuid: `00000000-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`,
      name_label: `disk ${i} <&>`,
      virtual_size: String(size),
      SR: 'Ref:2',
      VBDs: [`Ref:${100 + i}`],
      sharable: false,
      other_config: {},
    },
  }))
  const vbds: OvaObject[] = vdis.map((vdi, i) => ({
    class: 'VBD',
    id: `Ref:${100 + i}`,
    snapshot: {
      VM: 'Ref:1',
      VDI: vdi.id,
      userdevice: String(i),
      bootable: i === 0,
      mode: 'RW',
      type: 'Disk',
    },
  }))
  return {
    version: {
      hostname: 'sim-host',
      date: '2026-11-27',
      product_version: '8.2.1',
      product_brand: 'XCP-ng',
      build_number: 'release',
      xapi_major: 1,
      xapi_minor: 20,
      export_vsn: 2,
    },
    objects: [
      {
        class: 'VM',
        id: 'Ref:1',
        snapshot: {
          uuid: '0f5d2a3c-1b2c-4d5e-8f90-a1b2c3d4e5f6',
          name_label: 'web-01',
          power_state: 'Halted',
          HVM_shadow_multiplier: new XmlRpcDouble(1),
          snapshot_time: new XmlRpcDateTime('19700101T00:00:00Z'),
          VBDs: vbds.map((v) => v.id),
          other_config: { 'xo:backup:job': 'job-1' },
        },
      },
      {
        class: 'SR',
        id: 'Ref:2',
        snapshot: { uuid: '11111111-2222-4333-8444-555555555555', VDIs: vdis.map((v) => v.id) },
      },
      ...vbds,
      ...vdis,
    ],
  }
}
