import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { BackupError } from '../../shared/errors.ts'

/**
 * Seeded content of a described disk: `allocatedFraction` (0..1) of its 2 MiB blocks, chosen by
 * `seed`, hold bytes derived from `seed` (`random`: incompressible, default; `text`: compressible).
 * The same seed gives the same blocks and bytes; they are produced when first read.
 */
export interface DiskContent {
  readonly seed: number
  readonly allocatedFraction: number
  readonly pattern?: 'random' | 'text'
}

/** A disk of a described VM: its size, the SR it lives on (default: the pool's default SR), its content. */
export interface DiskDescription {
  readonly name?: string
  readonly sizeBytes: number
  readonly sr?: string
  /** Empty (never written) when absent. */
  readonly content?: DiskContent
}

/** Largest disk that may have `content`: a VHD's 2040 GiB limit, which also bounds the blocks listed. */
export const MAX_CONTENT_DISK_BYTES = 2040 * 1024 ** 3

/** A described VM; `networks` lists network names, one VIF each. */
export interface VmDescription {
  readonly name: string
  readonly description?: string
  readonly powerState?: 'Halted' | 'Running' | 'Suspended' | 'Paused'
  /** Host name the VM runs on (default: the master). */
  readonly host?: string
  readonly memoryBytes?: number
  readonly vcpus?: number
  readonly tags?: readonly string[]
  readonly otherConfig?: Readonly<Record<string, string>>
  readonly blockedOperations?: Readonly<Record<string, string>>
  readonly isTemplate?: boolean
  readonly disks?: readonly DiskDescription[]
  readonly networks?: readonly string[]
}

/** A described host; the first host of a pool is its master. */
export interface HostDescription {
  readonly name: string
  readonly address?: string
}

/** A described SR. */
export interface SrDescription {
  readonly name: string
  readonly type?: string
  readonly sizeBytes?: number
  readonly shared?: boolean
  readonly supportsCbt?: boolean
}

/** A described network; `purpose` drives NBD later (xapi.md §2.6). */
export interface NetworkDescription {
  readonly name: string
  readonly bridge?: string
  readonly vlan?: number
  readonly purpose?: readonly ('nbd' | 'insecure_nbd')[]
}

/**
 * A whole pool as written in a JSON or YAML file (see test/fixtures/simulator/pool.yaml):
 * hosts (the first is the master), SRs, networks and VMs with disks; names are how VMs refer to
 * hosts, SRs and networks. `defaultSr` names `pool.default_SR` (default: the first SR).
 */
export interface PoolDescription {
  readonly name?: string
  readonly hosts: readonly HostDescription[]
  readonly srs: readonly SrDescription[]
  readonly networks: readonly NetworkDescription[]
  readonly vms: readonly VmDescription[]
  readonly defaultSr?: string
}

/** A pool file that does not describe a pool: names the file, the field path, expected and got. */
export class PoolDescriptionError extends BackupError<'POOL_DESCRIPTION_INVALID'> {
  constructor(source: string, path: string, expected: string, got: unknown) {
    super(
      'POOL_DESCRIPTION_INVALID',
      `${source}: ${path}: expected ${expected}, got ${JSON.stringify(got)}`,
      {
        details: { source, path, expected },
      },
    )
  }
}

/** Reads a pool description from a `.json`, `.yaml` or `.yml` file and validates it. */
export async function readPoolDescription(path: string): Promise<PoolDescription> {
  const text = await readFile(path, 'utf8')
  let parsed: unknown
  try {
    parsed = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
  } catch (error) {
    throw new PoolDescriptionError(path, '(file)', 'JSON or YAML', (error as Error).message)
  }
  return validatePoolDescription(parsed, path)
}

type Check = (value: unknown, path: string) => void

/** Checks that `value` is a PoolDescription; throws PoolDescriptionError naming the first bad field. */
export function validatePoolDescription(value: unknown, source = 'pool description'): PoolDescription {
  const fail = (path: string, expected: string, got: unknown): never => {
    throw new PoolDescriptionError(source, path, expected, got)
  }
  const object = (v: unknown, path: string): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : fail(path, 'an object', v)
  const string: Check = (v, path) => {
    if (typeof v !== 'string' || v === '') fail(path, 'a non-empty string', v)
  }
  const size: Check = (v, path) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(path, 'a byte count', v)
  }
  const list = (v: unknown, path: string, item: Check): void => {
    if (v === undefined) return
    if (!Array.isArray(v)) fail(path, 'a list', v)
    ;(v as unknown[]).forEach((x, i) => {
      item(x, `${path}[${i}]`)
    })
  }
  const optional = (v: unknown, path: string, check: Check): void => {
    if (v !== undefined) check(v, path)
  }
  const root = object(value, '(root)')
  list(root.hosts, 'hosts', (h, path) => {
    const host = object(h, path)
    string(host.name, `${path}.name`)
    optional(host.address, `${path}.address`, string)
  })
  if (!Array.isArray(root.hosts) || root.hosts.length === 0) fail('hosts', 'at least one host', root.hosts)
  list(root.srs, 'srs', (s, path) => {
    const sr = object(s, path)
    string(sr.name, `${path}.name`)
    optional(sr.sizeBytes, `${path}.sizeBytes`, size)
  })
  list(root.networks, 'networks', (n, path) => {
    string(object(n, path).name, `${path}.name`)
  })
  list(root.vms, 'vms', (v, path) => {
    const vm = object(v, path)
    string(vm.name, `${path}.name`)
    const states = ['Halted', 'Running', 'Suspended', 'Paused']
    if (vm.powerState !== undefined && !states.includes(vm.powerState as string)) {
      fail(`${path}.powerState`, states.join('|'), vm.powerState)
    }
    list(vm.disks, `${path}.disks`, (d, diskPath) => {
      const disk = object(d, diskPath)
      size(disk.sizeBytes, `${diskPath}.sizeBytes`)
      if (disk.content !== undefined) {
        const content = object(disk.content, `${diskPath}.content`)
        if ((disk.sizeBytes as number) > MAX_CONTENT_DISK_BYTES) {
          fail(
            `${diskPath}.sizeBytes`,
            `at most ${MAX_CONTENT_DISK_BYTES} bytes for a disk with content`,
            disk.sizeBytes,
          )
        }
        if (!Number.isSafeInteger(content.seed) || (content.seed as number) < 0) {
          fail(`${diskPath}.content.seed`, 'a non-negative integer', content.seed)
        }
        const fraction = content.allocatedFraction
        if (typeof fraction !== 'number' || !(fraction >= 0 && fraction <= 1)) {
          fail(`${diskPath}.content.allocatedFraction`, 'a number from 0 to 1', fraction)
        }
        if (content.pattern !== undefined && content.pattern !== 'random' && content.pattern !== 'text') {
          fail(`${diskPath}.content.pattern`, 'random|text', content.pattern)
        }
      }
    })
    list(vm.tags, `${path}.tags`, string)
    list(vm.networks, `${path}.networks`, string)
  })
  const described = root as Partial<PoolDescription> & Pick<PoolDescription, 'hosts'>
  return {
    ...described,
    srs: described.srs ?? [],
    networks: described.networks ?? [],
    vms: described.vms ?? [],
  }
}
