import { randomBytes } from 'node:crypto'

/** A random locally administered unicast MAC, as XAPI generates for VIFs without one. */
export function randomMac(): string {
  const bytes = randomBytes(6)
  bytes[0] = ((bytes[0] ?? 0) & 0xfc) | 0x02
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':')
}
