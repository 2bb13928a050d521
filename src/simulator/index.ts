import { randomBytes } from 'node:crypto'
import type { Clock } from '../shared/clock.ts'
import { systemClock } from '../shared/clock.ts'
import type { SimulatorContext } from './context.ts'
import { SimulatorDb } from './db.ts'
import { Dispatcher } from './dispatch.ts'
import type { FaultInjector } from './faults.ts'
import { FaultRegistry } from './faults.ts'
import { buildMethodTable } from './methods/index.ts'
import type { BuiltPool } from './pool/build.ts'
import { buildPool } from './pool/build.ts'
import { DEMO_POOL } from './pool/demo.ts'
import type { PoolDescription } from './pool/description.ts'
import { PoolDescriptionError, validatePoolDescription } from './pool/description.ts'
import type { HttpHandler } from './server.ts'
import { SimulatorServer } from './server.ts'
import { TaskRunner } from './tasks.ts'
import type { GuestBehaviour } from './objects.ts'
import { DEFAULT_GUEST } from './objects.ts'
import { generateSelfSignedCertificate } from './tls.ts'
import { registerDataHandlers } from './http/index.ts'
import { SimulatorStorage } from './storage/simulator-storage.ts'
import type {
  GuestActivity,
  GuestActivityOptions,
  GuestWriteOptions,
  GuestWriteResult,
} from './guest-writes.ts'
import { GuestWriter } from './guest-writes.ts'
import { GuestAgents, validateGuestBehaviour } from './guest-agents.ts'
import { acquireVmOperation } from './methods/vm-checks.ts'

export type { FaultInjector, InjectedFault, DataFaultPath } from './faults.ts'
export type { SimulatorStorage, VdiWrite } from './storage/simulator-storage.ts'
export type { GuestBehaviour } from './objects.ts'
export type { BuiltPool } from './pool/build.ts'
export type { PoolDescription, VmDescription, DiskDescription, DiskContent } from './pool/description.ts'
export { DEMO_POOL } from './pool/demo.ts'
export { readPoolDescription, validatePoolDescription, PoolDescriptionError } from './pool/description.ts'
export type {
  GuestActivity,
  GuestActivityOptions,
  GuestWriteOptions,
  GuestWriteResult,
} from './guest-writes.ts'
export { GuestOptionError } from './guest-writes.ts'
export { SimulatorDb } from './db.ts'
export type { HttpHandler } from './server.ts'
export type { SimulatorContext } from './context.ts'
export { authenticateHttpRequest } from './http-auth.ts'
export { XapiFault } from './xapi-fault.ts'

/** How to start a simulator; every field is optional. */
export interface SimulatorOptions {
  /** TCP port; default 0 (a free one, see `url`). */
  readonly port?: number
  /** Interface to listen on; default '127.0.0.1'. */
  readonly host?: string
  /** Serve HTTPS with a fresh self-signed certificate (needs `openssl`), exposed as `caCertPem`. */
  readonly tls?: boolean
  /** The pool to simulate; default DEMO_POOL. */
  readonly pool?: PoolDescription
  /** Where VDI contents live (a sparse `blocks.bin`); default a temp directory removed by `close`. */
  readonly dataDir?: string
  readonly clock?: Clock
  /** Login user; default 'root'. */
  readonly username?: string
  /** Login password; default a random one (see `password`). */
  readonly password?: string
  /** Act as a pool member: every login fails with `HOST_IS_SLAVE [slaveOf]` (xapi.md §1.4). */
  readonly slaveOf?: string
  /**
   * Answer as this host of the pool (by name); when it is not the master (the first host),
   * logins fail with `HOST_IS_SLAVE [master address]`.
   */
  readonly actAsHost?: string
  /** Emulate XAPI before 21.4.0: `VM.snapshot` without `ignore_vdis` (MESSAGE_PARAMETER_COUNT_MISMATCH with it). */
  readonly withoutIgnoreVdis?: boolean
  /**
   * How guests booted by `VM.start` behave; default: PV drivers detected at boot, health check
   * answered 'success' (see `setGuestBehaviour`).
   */
  readonly guest?: Partial<GuestBehaviour>
}

/** A started simulator: where to reach it, how to log in, direct database access, faults, and `close`. */
export interface RunningSimulator {
  /** e.g. 'http://127.0.0.1:41234' (https with `tls`). */
  readonly url: string
  readonly username: string
  readonly password: string
  /** The self-signed certificate (its own CA) when started with `tls`. */
  readonly caCertPem?: string
  /** The object database, for tests (find objects, mutate like a guest would). */
  readonly db: SimulatorDb
  /** VDI contents: `writeBlocks(vdi, writes)` writes like a guest (CBT follows), `readAll(vdi)`, `source(vdi)`. */
  readonly storage: SimulatorStorage
  /** Refs of the described pool's objects by name (hosts, SRs, networks, VMs). */
  readonly pool: BuiltPool
  readonly faults: FaultInjector
  /**
   * Rewrites exactly round(changedFraction × blocks) seeded blocks of each disk of a running VM
   * (ref or uuid) now, on its live VDIs (snapshots keep their content); returns them per VDI.
   */
  guestWrite(vm: string, options: GuestWriteOptions): GuestWriteResult[]
  /** Starts seeded random block writes on a VM (ref or uuid) at a rate of the clock, while it runs. */
  startGuestActivity(vm: string, options: GuestActivityOptions): GuestActivity
  /**
   * Puts `op` (e.g. `pool_migrate`) in the VM's `current_operations` under a pending task, as if a
   * call were running, after XAPI's checks for `op`; `end()` removes it and ends the task.
   */
  holdVmOperation(vm: string, op: string): { readonly task: string; end(): void }
  /**
   * Changes how guests booted after this call behave (`pvDrivers`, `pvDriversDelayMs`,
   * `healthCheck`); running guests keep theirs. Bad values throw GuestOptionError.
   */
  setGuestBehaviour(partial: Partial<GuestBehaviour>): void
  /** Adds an HTTP handler for paths starting with `prefix` (longest prefix wins). */
  registerHttpHandler(prefix: string, handler: HttpHandler): void
  close(): Promise<void>
}

/** Starts a XAPI simulator (both RPC transports, the described or demo pool) and resolves once it listens. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const db = new SimulatorDb()
  const storage = new SimulatorStorage(db, options.dataDir)
  try {
    return await startOn(db, storage, options)
  } catch (error) {
    // A bad pool description, a port in use, no openssl: the block file and its temp folder go too.
    storage.close()
    throw error
  }
}

async function startOn(
  db: SimulatorDb,
  storage: SimulatorStorage,
  options: SimulatorOptions,
): Promise<RunningSimulator> {
  const clock = options.clock ?? systemClock
  const host = options.host ?? '127.0.0.1'
  const pool = buildPool(
    db,
    validatePoolDescription(options.pool ?? DEMO_POOL, 'options.pool'),
    clock.now(),
    (vdi, content) => storage.fillContent(vdi, content),
  )
  const guests = new GuestWriter(db, storage, clock)
  validateGuestBehaviour(options.guest ?? {})
  const agents = new GuestAgents(db, clock, { ...DEFAULT_GUEST, ...options.guest })
  const username = options.username ?? 'root'
  const password = options.password ?? randomBytes(12).toString('base64url')
  const methods = buildMethodTable({ withoutIgnoreVdis: options.withoutIgnoreVdis ?? false })
  const tasks = new TaskRunner(db, clock, () => pool.master)
  const masterAddress = db.get('host', pool.master).address as string
  const actAs = options.actAsHost === undefined ? pool.master : pool.hosts.get(options.actAsHost)
  if (actAs === undefined) {
    throw new PoolDescriptionError(
      'options',
      'actAsHost',
      `one of ${[...pool.hosts.keys()].join(', ')}`,
      options.actAsHost,
    )
  }
  const faults = new FaultRegistry(() => {
    for (const [session] of db.all('session')) db.destroy('session', session)
  })
  const ctx: SimulatorContext = {
    db,
    clock,
    tasks,
    storage,
    faults,
    guests: agents,
    username,
    password,
    hostAddress: db.get('host', actAs).address as string,
    masterAddress: options.slaveOf ?? masterAddress,
    methodNames: () => [...methods.keys()],
  }
  const tls = options.tls === true ? await generateSelfSignedCertificate(host) : undefined
  const server = new SimulatorServer(ctx, new Dispatcher(ctx, methods, faults, tasks), tls)
  registerDataHandlers(server)
  const port = await server.listen(host, options.port ?? 0)
  const urlHost = host.includes(':') ? `[${host}]` : host
  return {
    url: `${tls === undefined ? 'http' : 'https'}://${urlHost}:${port}`,
    username,
    password,
    ...(tls === undefined ? {} : { caCertPem: tls.certPem }),
    db,
    storage,
    pool,
    faults,
    guestWrite: (vm, writeOptions) => guests.guestWrite(vm, writeOptions),
    startGuestActivity: (vm, activityOptions) => guests.startActivity(vm, activityOptions),
    holdVmOperation: (vm, op) => {
      const ref = guests.resolveVm(vm)
      const task = tasks.create(`Async.VM.${op}`, 'held by a test (holdVmOperation)')
      let release: () => void
      try {
        release = acquireVmOperation(db, ref, op, task)
      } catch (error) {
        db.destroy('task', task)
        throw error
      }
      return {
        task,
        end: () => {
          release()
          if (db.find('task', task)?.status === 'pending') tasks.succeed(task, '')
        },
      }
    },
    setGuestBehaviour: (partial) => {
      agents.set(partial)
    },
    registerHttpHandler: (prefix, handler) => {
      server.registerHttpHandler(prefix, handler)
    },
    close: async () => {
      agents.stopAll()
      await guests.stopAll()
      await server.close()
      storage.close()
    },
  }
}
