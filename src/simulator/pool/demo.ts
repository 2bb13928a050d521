import type { PoolDescription } from './description.ts'

const MiB = 1024 ** 2
const GiB = 1024 ** 3

/**
 * The built-in demo pool: one host, a local and a shared SR, two networks, two running and two
 * halted VMs with one to three disks each, every disk with seeded content (README "Demo pool"),
 * one of them named `[NOBAK]`. Content is produced when first read, so start-up stays fast.
 */
export const DEMO_POOL: PoolDescription = {
  name: 'Demo pool',
  hosts: [{ name: 'xcp-host-1', address: '127.0.0.1' }],
  srs: [
    { name: 'Local storage', type: 'ext', sizeBytes: 1024 * GiB },
    { name: 'Shared NFS', type: 'nfs', sizeBytes: 4096 * GiB, shared: true, supportsCbt: true },
  ],
  networks: [
    { name: 'Pool-wide network associated with eth0', bridge: 'xenbr0' },
    { name: 'Backup network', bridge: 'xapi1', vlan: 100 },
  ],
  vms: [
    {
      name: 'web-01',
      powerState: 'Running',
      tags: ['production', 'web'],
      disks: [
        // 4 GiB, thinly used like a fresh OS disk (the XAPI client's tests read this size).
        { name: 'web-01 system', sizeBytes: 4 * GiB, content: { seed: 101, allocatedFraction: 0.1 } },
        {
          name: 'web-01 data',
          sizeBytes: 512 * MiB,
          content: { seed: 102, allocatedFraction: 0.4, pattern: 'text' },
        },
      ],
      networks: ['Pool-wide network associated with eth0'],
    },
    {
      name: 'db-01',
      powerState: 'Running',
      memoryBytes: 4 * GiB,
      vcpus: 2,
      tags: ['production'],
      disks: [
        { name: 'db-01 system', sizeBytes: 1 * GiB, content: { seed: 201, allocatedFraction: 0.25 } },
        {
          name: 'db-01 data',
          sizeBytes: 512 * MiB,
          sr: 'Shared NFS',
          content: { seed: 202, allocatedFraction: 0.5 },
        },
        {
          name: 'db-01 scratch [NOBAK]',
          sizeBytes: 256 * MiB,
          sr: 'Shared NFS',
          content: { seed: 203, allocatedFraction: 0.2 },
        },
      ],
      networks: ['Pool-wide network associated with eth0', 'Backup network'],
    },
    {
      name: 'build-agent',
      powerState: 'Halted',
      disks: [
        { name: 'build-agent system', sizeBytes: 512 * MiB, content: { seed: 301, allocatedFraction: 0.25 } },
      ],
      networks: ['Pool-wide network associated with eth0'],
    },
    {
      name: 'archive',
      powerState: 'Halted',
      tags: ['cold'],
      disks: [
        { name: 'archive system', sizeBytes: 256 * MiB, content: { seed: 401, allocatedFraction: 0.5 } },
        {
          name: 'archive data',
          sizeBytes: 256 * MiB,
          content: { seed: 402, allocatedFraction: 0.2, pattern: 'text' },
        },
      ],
    },
  ],
}
