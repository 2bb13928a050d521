import type { SimulatorDb } from '../db.ts'
import type { XapiRecord } from '../types.ts'
import { NULL_REF, formatXapiDateTime } from '../types.ts'
import type { DiskContent, PoolDescription } from './description.ts'
import { buildVm } from './build-vm.ts'
import { randomMac } from './mac.ts'
import { PoolDescriptionError } from './description.ts'

/** Refs of the objects built from a description, looked up by their described names. */
export interface BuiltPool {
  readonly pool: string
  readonly master: string
  readonly hosts: ReadonlyMap<string, string>
  readonly srs: ReadonlyMap<string, string>
  readonly networks: ReadonlyMap<string, string>
  readonly vms: ReadonlyMap<string, string>
}

/**
 * Fills an empty database with the described pool (xapi.md §8.2) and returns the refs by name;
 * `fillContent` gives each disk described with `content` its blocks (the simulator's storage).
 */
export function buildPool(
  db: SimulatorDb,
  description: PoolDescription,
  nowMs: number,
  fillContent?: (vdi: string, content: DiskContent) => void,
): BuiltPool {
  const source = description.name ?? 'pool description'
  const lookup = (map: ReadonlyMap<string, string>, name: string, path: string): string =>
    map.get(name) ?? fail(source, path, `one of ${[...map.keys()].join(', ')}`, name)
  const hosts = new Map<string, string>()
  description.hosts.forEach((host, i) => {
    hosts.set(host.name, db.create('host', hostRecord(host.name, host.address ?? `10.0.0.${i + 1}`)))
  })
  const master = [...hosts.values()][0] as string
  const srs = new Map(description.srs.map((sr) => [sr.name, db.create('SR', srRecord(sr))] as const))
  for (const [name, sr] of srs) {
    const shared = description.srs.find((s) => s.name === name)?.shared === true
    for (const host of shared ? hosts.values() : [master]) {
      db.create('PBD', { host, SR: sr, currently_attached: true, device_config: {} })
    }
  }
  const networks = new Map<string, string>()
  description.networks.forEach((network, i) => {
    const ref = db.create('network', {
      name_label: network.name,
      bridge: network.bridge ?? `xenbr${i}`,
      purpose: [...(network.purpose ?? [])],
    })
    networks.set(network.name, ref)
    for (const [h, host] of [...hosts.values()].entries()) {
      db.create('PIF', {
        device: `eth${i}`,
        network: ref,
        host,
        MAC: randomMac(),
        VLAN: network.vlan ?? -1,
        management: i === 0,
        IP: i === 0 ? (description.hosts[h]?.address ?? '') : '',
      })
    }
  })
  const defaultSr =
    description.defaultSr === undefined
      ? [...srs.values()][0]
      : lookup(srs, description.defaultSr, 'defaultSr')
  const pool = db.create('pool', {
    name_label: description.name ?? '',
    master,
    default_SR: defaultSr ?? NULL_REF,
  })
  for (const [name, host] of hosts) createControlDomain(db, host, name, nowMs)
  const vms = new Map<string, string>()
  const ctx = {
    db,
    nowMs,
    master,
    defaultSr: defaultSr ?? NULL_REF,
    hosts,
    srs,
    networks,
    lookup,
    fillContent,
  }
  description.vms.forEach((vm, i) => vms.set(vm.name, buildVm(vm, `vms[${i}]`, ctx)))
  return { pool, master, hosts, srs, networks, vms }
}

function fail(source: string, path: string, expected: string, got: unknown): never {
  throw new PoolDescriptionError(source, path, expected, got)
}

function hostRecord(name: string, address: string): XapiRecord {
  return {
    name_label: name,
    hostname: name,
    address,
    software_version: {
      product_brand: 'XCP-ng',
      product_version: '8.3.0',
      platform_version: '3.4.0',
      xapi: '24.19',
    },
    other_config: { agent_start_time: '0.' },
  }
}

function srRecord(sr: PoolDescription['srs'][number]): XapiRecord {
  const iso = sr.type === 'iso'
  return {
    name_label: sr.name,
    type: sr.type ?? 'ext',
    content_type: iso ? 'iso' : 'user',
    shared: sr.shared ?? false,
    physical_size: sr.sizeBytes ?? 0,
    sm_config: sr.supportsCbt === true ? { supports_cbt: 'true' } : {},
    other_config: {},
  }
}

function createControlDomain(db: SimulatorDb, host: string, hostName: string, nowMs: number): void {
  const metrics = db.create('VM_metrics', { start_time: formatXapiDateTime(nowMs), VCPUs_number: 1 })
  const vm = db.create('VM', {
    name_label: `Control domain on host: ${hostName}`,
    is_control_domain: true,
    power_state: 'Running',
    resident_on: host,
    domid: 0,
    domain_type: 'pv',
    metrics,
  })
  db.update('host', host, { control_domain: vm })
}
