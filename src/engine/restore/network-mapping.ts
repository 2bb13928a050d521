// Which network of the target pool each VIF of a backup goes to (xen-orchestra-backups.md §4 step
// 6): pure, so the rules are tested with tables. XO records `$network$uuid`, `$network$name_label`
// and `$network$VLAN` on each VIF of delta metadata; older metadata (and ours before it recorded
// them) has only the VIF's `network` ref, which still names the network on the pool it came from.
import type { XapiRef } from '../../xapi/types.ts'
import { RestoreError } from './restore-error.ts'

/** A record read from metadata or XAPI: any field may be absent or of another type. */
export type LooseRecord = { readonly [field: string]: unknown }

/** A network of the target pool, as the mapping sees it. */
export interface TargetNetwork {
  readonly ref: XapiRef
  readonly uuid: string
  readonly nameLabel: string
  /** The VLAN of its first PIF (-1 untagged); undefined for a network without PIF (private). */
  readonly vlan: number | undefined
}

/** The networks of the pool a VM is imported into, in the order "first network of a VLAN" uses. */
export interface TargetNetworks {
  readonly networks: readonly TargetNetwork[]
  /** The pool's default network: the one of the master's management PIF; undefined when none. */
  readonly defaultRef: XapiRef | undefined
}

/**
 * Which rule chose a VIF's network: its recorded network uuid; its network ref (same pool); the
 * same name_label on the same VLAN; the default network when on that VLAN, else the first network
 * of that VLAN; the pool's default network (nothing else matched).
 */
export type NetworkMatch = 'uuid' | 'ref' | 'name-and-vlan' | 'vlan' | 'default'

/** The network chosen for one VIF of the backup, and why. */
export interface VifNetwork {
  readonly networkRef: XapiRef
  readonly match: NetworkMatch
}

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined

const vlanOf = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) ? value : undefined

/** `VIF <uuid or key> (device <n>)`, for messages. */
export function describeVif(key: string, vif: LooseRecord): string {
  const device = text(vif.device)
  return `VIF ${text(vif.uuid) ?? key}${device === undefined ? '' : ` (device ${device})`}`
}

/** What the backup says of a VIF's network, for messages: name, uuid and VLAN when known. */
function describeWanted(vif: LooseRecord): string {
  const parts = [
    text(vif.$network$name_label) === undefined ? undefined : JSON.stringify(vif.$network$name_label),
    text(vif.$network$uuid) ?? text(vif.network),
    vlanOf(vif.$network$VLAN) === undefined ? undefined : `VLAN ${String(vif.$network$VLAN)}`,
  ].filter((p) => p !== undefined)
  return parts.length === 0 ? 'an unnamed network' : `network ${parts.join(' ')}`
}

/** The network of one VIF by the rules of NetworkMatch, in their order; undefined when none applies. */
export function matchVifNetwork(vif: LooseRecord, target: TargetNetworks): VifNetwork | undefined {
  const { networks, defaultRef } = target
  const uuid = text(vif.$network$uuid)?.toLowerCase()
  const byUuid = uuid === undefined ? undefined : networks.find((n) => n.uuid.toLowerCase() === uuid)
  if (byUuid !== undefined) return { networkRef: byUuid.ref, match: 'uuid' }
  const ref = text(vif.network)
  const byRef = ref === undefined ? undefined : networks.find((n) => n.ref === ref)
  if (byRef !== undefined) return { networkRef: byRef.ref, match: 'ref' }
  const name = text(vif.$network$name_label)
  const vlan = vlanOf(vif.$network$VLAN)
  // A VLAN the metadata does not record matches any: the name is then all we know.
  const byName =
    name === undefined
      ? undefined
      : networks.find((n) => n.nameLabel === name && (vlan === undefined || n.vlan === vlan))
  if (byName !== undefined) return { networkRef: byName.ref, match: 'name-and-vlan' }
  if (vlan !== undefined) {
    const onVlan = networks.filter((n) => n.vlan === vlan)
    // On the default network's own VLAN (usually untagged), the default beats an arbitrary first one.
    const chosen = onVlan.find((n) => n.ref === defaultRef) ?? onVlan[0]
    if (chosen !== undefined) return { networkRef: chosen.ref, match: 'vlan' }
  }
  return defaultRef === undefined ? undefined : { networkRef: defaultRef, match: 'default' }
}

/**
 * The network of every VIF of `vifs` (keyed like the backup's `vifs`) on the target pool by
 * matchVifNetwork; RestoreError RESTORE_NETWORK_UNMAPPED naming the VIF and the network it was on
 * when one matches nothing (no such network and no default network).
 */
export function planNetworkMapping(
  vifs: Readonly<Record<string, LooseRecord>>,
  target: TargetNetworks,
): Map<string, VifNetwork> {
  const out = new Map<string, VifNetwork>()
  for (const [key, vif] of Object.entries(vifs)) {
    const chosen = matchVifNetwork(vif, target)
    if (chosen === undefined)
      throw new RestoreError(
        'RESTORE_NETWORK_UNMAPPED',
        `${describeVif(key, vif)}: ${describeWanted(vif)} has no match on the target pool (by uuid, name and VLAN, or VLAN) and the pool has no default network (no management PIF on its master)`,
        { details: { vif: text(vif.uuid) ?? key } },
      )
    out.set(key, chosen)
  }
  return out
}
