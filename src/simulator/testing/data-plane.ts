// Test support for the data plane: a small pool, deterministic disk content, stream collection.
import type { PoolDescription } from '../pool/description.ts'

/** One mebibyte. */
export const MiB = 1024 * 1024

/** A pool with small disks for data-plane tests: halted VMs with 0, 1 and 3 disks, a running VM. */
export const DATA_POOL: PoolDescription = {
  name: 'Data pool',
  hosts: [{ name: 'host-1', address: '127.0.0.1' }],
  srs: [
    { name: 'Local', type: 'ext', sizeBytes: 1024 * 1024 * MiB, supportsCbt: true },
    { name: 'ISO', type: 'iso', sizeBytes: 1024 * MiB },
  ],
  networks: [{ name: 'eth0 network', bridge: 'xenbr0' }],
  vms: [
    { name: 'diskless', powerState: 'Halted', networks: ['eth0 network'] },
    {
      name: 'one-disk',
      powerState: 'Halted',
      disks: [{ name: 'one-disk system', sizeBytes: 6 * MiB + 4096 }],
      networks: ['eth0 network'],
    },
    {
      name: 'three-disks',
      powerState: 'Halted',
      disks: [
        { name: 'three system', sizeBytes: 4 * MiB },
        { name: 'three data', sizeBytes: 5 * MiB },
        { name: 'three logs', sizeBytes: 3 * MiB + 512 },
      ],
      networks: ['eth0 network'],
    },
    { name: 'running', powerState: 'Running', disks: [{ sizeBytes: 8 * MiB }], networks: ['eth0 network'] },
    { name: 'big', powerState: 'Halted', disks: [{ name: 'big system', sizeBytes: 20 * 1024 * MiB }] },
  ],
  defaultSr: 'Local',
}

/** `length` deterministic non-zero bytes derived from `seed` (a cheap LCG: fast for MiBs). */
export function patternBytes(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let state = (seed * 2654435761 + 1) >>> 0
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0
    out[i] = (state >>> 24) | 1
  }
  return out
}

/** Every byte of a stream, concatenated. */
export async function collectBytes(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}
