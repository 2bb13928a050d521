// Reads what network-mapping.ts needs from the pool a VM is imported into: its networks with the
// VLAN of their first PIF (XO uses `network.$PIFs[0].VLAN`, xapi.md §2.6) and the default network.
import type { XapiClient, XapiValue } from '../../xapi/types.ts'
import type { TargetNetwork, TargetNetworks } from './network-mapping.ts'

type Fields = { readonly [field: string]: XapiValue }

const isFields = (value: XapiValue | undefined): value is Fields =>
  typeof value === 'object' && !Array.isArray(value)

/** An int field of an untyped record: a number, or XML-RPC's digit string; else undefined. */
function vlanOf(value: XapiValue | undefined): number | undefined {
  const vlan = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN
  return typeof value === 'string' && value.trim() === ''
    ? undefined
    : Number.isInteger(vlan)
      ? vlan
      : undefined
}

/**
 * The networks of the pool behind `xapi`, sorted by name_label then uuid (so "the first network of
 * a VLAN" does not depend on XAPI's order), and its default network: the network of the
 * management PIF of the pool's master (undefined when the master has none).
 */
export async function readTargetNetworks(
  xapi: XapiClient,
  options: { readonly signal?: AbortSignal } = {},
): Promise<TargetNetworks> {
  const callOptions = options.signal === undefined ? {} : { signal: options.signal }
  const [networks, pifsValue, pools] = await Promise.all([
    xapi.getAllRecords('network', callOptions),
    // PIF has no typed record in src/xapi: its fields are read defensively here.
    xapi.call('PIF.get_all_records', [], callOptions),
    xapi.getAllRecords('pool', callOptions),
  ])
  const pifs = new Map<string, Fields>()
  if (isFields(pifsValue))
    for (const [ref, record] of Object.entries(pifsValue)) if (isFields(record)) pifs.set(ref, record)
  const master = [...pools.values()][0]?.master
  const management = [...pifs.values()].find(
    (pif) => pif.management === true && pif.host === master && typeof pif.network === 'string',
  )
  const out: TargetNetwork[] = []
  for (const [ref, network] of networks) {
    const firstPif = network.PIFs.map((pif) => pifs.get(pif)).find((pif) => pif !== undefined)
    out.push({ ref, uuid: network.uuid, nameLabel: network.name_label, vlan: vlanOf(firstPif?.VLAN) })
  }
  out.sort((a, b) => a.nameLabel.localeCompare(b.nameLabel) || a.uuid.localeCompare(b.uuid))
  const defaultRef = management?.network
  return {
    networks: out,
    defaultRef: typeof defaultRef === 'string' && networks.has(defaultRef) ? defaultRef : undefined,
  }
}
