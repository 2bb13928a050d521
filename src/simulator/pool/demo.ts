import type { PoolDescription } from './description.ts'

const GiB = 1024 ** 3

/**
 * The built-in demo pool: one host, a local and a shared SR, two networks, running and halted
 * VMs with one to three disks each (issue 4 scope 6).
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
        { name: 'web-01 system', sizeBytes: 10 * GiB },
        { name: 'web-01 data', sizeBytes: 4 * GiB },
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
        { name: 'db-01 system', sizeBytes: 20 * GiB },
        { name: 'db-01 data', sizeBytes: 50 * GiB, sr: 'Shared NFS' },
        { name: 'db-01 logs', sizeBytes: 8 * GiB, sr: 'Shared NFS' },
      ],
      networks: ['Pool-wide network associated with eth0', 'Backup network'],
    },
    {
      name: 'build-agent',
      powerState: 'Halted',
      disks: [{ name: 'build-agent system', sizeBytes: 16 * GiB }],
      networks: ['Pool-wide network associated with eth0'],
    },
    {
      name: 'archive',
      powerState: 'Halted',
      tags: ['cold'],
      disks: [
        { name: 'archive system', sizeBytes: 8 * GiB },
        { name: 'archive data', sizeBytes: 2 * GiB },
      ],
    },
  ],
}
