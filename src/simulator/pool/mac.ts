import { createHash, randomBytes } from 'node:crypto'

/** A random locally administered unicast MAC, as XAPI generates for VIFs without one. */
export function randomMac(): string {
  return formatMac([...randomBytes(6)])
}

/**
 * The MAC XAPI gives VIF `device` of a VM whose `other_config.mac_seed` is `seed` when VIF.create
 * gets an empty MAC (`xapi_vif_helpers.ml gen_mac`): MD5 applied 2 × device + 1 times to the seed,
 * its first four bytes, then bytes 1 and 2 of the MD5 of that; locally administered, unicast.
 * Same seed and device, same MAC.
 */
export function macFromSeed(seed: string, device: number): string {
  const md5 = (data: Buffer): Buffer => createHash('md5').update(data).digest()
  let hashed = md5(Buffer.from(seed, 'utf8'))
  for (let i = 0; i < device * 2; i++) hashed = md5(hashed)
  const next = md5(hashed)
  return formatMac([hashed[0], hashed[1], hashed[2], hashed[3], next[1], next[2]].map((b) => b ?? 0))
}

/** True for six two-digit hex groups separated by ':' (XAPI's `Helpers.is_valid_MAC`). */
export function isValidMac(mac: string): boolean {
  return /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)
}

function formatMac(bytes: readonly number[]): string {
  const out = [...bytes]
  // Bit 1 (locally administered) set, bit 0 (multicast) clear, as Record_util.mac_from_int_array does.
  out[0] = ((out[0] ?? 0) | 0x02) & 0xfe
  return out.map((b) => b.toString(16).padStart(2, '0')).join(':')
}
