// The health check core against the simulator (xen-orchestra-backups.md §1.2, §5.1, §6; xapi.md
// §2.6, §8.6): a disposable VM is tagged, loses its VIFs, boots and passes once its guest reports
// PV drivers; in every outcome (pass, timeout, refused start, abort) it and its disks are gone
// afterwards. Replicas are cloned (disks on the health check SR) or copied (elsewhere) first.
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { HealthCheckError } from '../../src/engine/health-check/health-check-error.ts'
import { cloneForHealthCheck } from '../../src/engine/health-check/replica-health-check.ts'
import type { HealthCheckVmOptions } from '../../src/engine/health-check/vm-health-check.ts'
import {
  HEALTH_CHECK_NO_BAK_TAG,
  RUNNING_INFO,
  healthCheckVm,
} from '../../src/engine/health-check/vm-health-check.ts'
import type { Clock } from '../../src/shared/clock.ts'
import { systemClock } from '../../src/shared/clock.ts'
import type { PoolDescription, RunningSimulator, SimulatorOptions } from '../../src/simulator/index.ts'
import { startSimulator } from '../../src/simulator/index.ts'
import type { ManualClock } from '../../src/simulator/testing/manual-clock.ts'
import { createManualClock } from '../../src/simulator/testing/manual-clock.ts'
import { MemorySink } from '../../src/tasks/sinks/memory-sink.ts'
import type { Task } from '../../src/tasks/task.ts'
import { runRootTask } from '../../src/tasks/task.ts'
import type { TaskTreeNode } from '../../src/tasks/tree.ts'
import { HttpXapiClient } from '../../src/xapi/http-xapi-client.ts'
import type { HttpXapiClientOptions } from '../../src/xapi/http-xapi-client-options.ts'
import type { XapiClient } from '../../src/xapi/types.ts'

const MiB = 1024 * 1024
const MIN = 60_000
const TIMEOUT = { timeout: 120_000 }
const BLOCKED = 'Start operation for this vm is blocked, clone it if you want to use it.'

const POOL: PoolDescription = {
  name: 'health check pool',
  hosts: [{ name: 'host-1' }],
  srs: [
    { name: 'Local', sizeBytes: 1024 * MiB },
    { name: 'Other', sizeBytes: 1024 * MiB },
  ],
  networks: [{ name: 'net' }],
  defaultSr: 'Local',
  vms: [
    {
      name: 'app',
      powerState: 'Halted',
      disks: [
        { name: 'app system', sizeBytes: 4 * MiB },
        { name: 'app data', sizeBytes: 2 * MiB },
      ],
      networks: ['net'],
    },
    {
      name: 'replica',
      powerState: 'Halted',
      tags: ['Continuous Replication'],
      blockedOperations: { start: BLOCKED, start_on: BLOCKED },
      disks: [{ name: 'replica system', sizeBytes: 4 * MiB }],
      networks: ['net'],
    },
    {
      name: 'far replica',
      powerState: 'Halted',
      tags: ['Disaster Recovery'],
      blockedOperations: { start: BLOCKED, start_on: BLOCKED },
      disks: [{ name: 'far system', sizeBytes: 4 * MiB, sr: 'Other' }],
      networks: ['net'],
    },
    {
      name: 'web',
      powerState: 'Running',
      disks: [{ name: 'web system', sizeBytes: 2 * MiB }],
      networks: ['net'],
    },
  ],
}

interface Fixture {
  readonly sim: RunningSimulator
  readonly xapi: HttpXapiClient
  ref(kind: 'vms' | 'srs', name: string): string
  close(): Promise<void>
}

async function startFixture(
  options: Omit<SimulatorOptions, 'pool'> = {},
  client: Partial<HttpXapiClientOptions> = {},
): Promise<Fixture> {
  const sim = await startSimulator({ ...options, pool: POOL })
  const xapi = new HttpXapiClient({ url: sim.url, user: sim.username, password: sim.password, ...client })
  await xapi.connect()
  return {
    sim,
    xapi,
    ref(kind, name) {
      const ref = sim.pool[kind].get(name)
      if (ref === undefined) throw new Error(`no ${kind} ${name} in the test pool`)
      return ref
    },
    async close() {
      await xapi.disconnect()
      await sim.close()
    },
  }
}

/** Every VM, VBD, VIF, VDI and guest metrics record: equal before and after means nothing was left. */
function inventory(sim: RunningSimulator): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const cls of ['VM', 'VBD', 'VIF', 'VDI', 'VM_guest_metrics'])
    out[cls] = sim.db
      .all(cls)
      .map(([ref]) => ref)
      .sort()
  return out
}

/** Waits (bounded, real time) until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (condition()) return
    await delay(10)
  }
  assert.fail(`timed out waiting for ${what}`)
}

/** Runs `fn` under a root task and returns its outcome with the task tree. */
async function underTask<T>(
  fn: (task: Task) => Promise<T>,
  sink = new MemorySink(),
): Promise<{ value?: T; error?: unknown; root: TaskTreeNode }> {
  let value: T | undefined
  let error: unknown
  try {
    value = await runRootTask({ sink }, { message: 'test' }, fn)
  } catch (e) {
    error = e
  }
  const [root] = sink.trees({ final: true }).roots
  assert.ok(root !== undefined, 'a root task')
  return error === undefined ? { value: value as T, root } : { error, root }
}

const shape = (node: TaskTreeNode): unknown => [node.message, node.status, node.tasks.map(shape)]

/** A clone of `vm` made by the test, as a restore would make the disposable VM. */
const cloneOf = (f: Fixture, vm: string, name: string) => async () =>
  f.xapi.callAsync('VM.clone', [f.ref('vms', vm), name])

/** The client with every `call`/`callAsync` method name recorded in order. */
function recording(xapi: XapiClient, calls: string[]): XapiClient {
  return new Proxy(xapi, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      const fn = value as (...args: unknown[]) => unknown
      if (prop === 'call' || prop === 'callAsync') {
        return (method: string, ...rest: unknown[]) => {
          calls.push(prop === 'call' ? method : `Async.${method}`)
          return fn.apply(target, [method, ...rest])
        }
      }
      return fn.bind(target)
    },
  })
}

/** A clock whose sleeps of `deadlineMs` (the health check's budget) end only when the test calls `expire`. */
function deadlineClock(deadlineMs: number): { clock: Clock; expire: () => void } {
  const expiry = new AbortController()
  return {
    clock: {
      now: () => systemClock.now(),
      sleep: (ms, signal) => {
        if (ms !== deadlineMs) return systemClock.sleep(ms, signal)
        return new Promise<void>((resolve, reject) => {
          if (signal?.aborted === true) {
            reject(signal.reason as Error)
            return
          }
          expiry.signal.addEventListener('abort', () => {
            resolve()
          })
          signal?.addEventListener('abort', () => {
            reject(signal.reason as Error)
          })
        })
      },
    },
    expire: () => {
      expiry.abort()
    },
  }
}

const NEVER = new AbortController().signal

function options(
  vm: Pick<HealthCheckVmOptions, 'vmRef' | 'makeVm'>,
  rest: Partial<HealthCheckVmOptions> = {},
): HealthCheckVmOptions {
  return { timeoutMs: 10 * MIN, clock: systemClock, signal: NEVER, ...vm, ...rest } as HealthCheckVmOptions
}

function healthCheckError(code: string, message: RegExp): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof HealthCheckError, `a HealthCheckError, got ${String(error)}`)
    assert.equal(error.code, code)
    assert.match(error.message, message)
    return true
  }
}

describe('health check, guests with tools', () => {
  let f: Fixture
  before(async () => {
    f = await startFixture()
  })
  after(async () => {
    await f.close()
  })

  it('(a) a clone of a halted VM boots, passes, and is gone with its disks afterwards', TIMEOUT, async () => {
    const before = inventory(f.sim)
    const appDisks = (f.sim.db.get('VM', f.ref('vms', 'app')).VBDs as string[]).length
    const calls: string[] = []
    let seen: { uuid: string; vifs: number; tags: string[] } | undefined
    const outcome = await underTask((task) =>
      healthCheckVm(
        recording(f.xapi, calls),
        options({
          makeVm: async () => {
            const ref = await cloneOf(f, 'app', 'app restored')()
            const record = f.sim.db.get('VM', ref)
            seen = { uuid: record.uuid as string, vifs: (record.VIFs as string[]).length, tags: [] }
            return ref
          },
        }),
        task,
      ),
    )
    assert.equal(outcome.error, undefined)
    assert.equal(seen?.vifs, 1, 'the clone had a VIF before the check')
    const value = outcome.value
    assert.ok(value !== undefined, 'a result')
    assert.equal(value.vm, seen.uuid)
    assert.ok(value.durationMs >= 0, 'a duration')
    assert.deepEqual(shape(outcome.root), [
      'test',
      'success',
      [['health check', 'success', [['vmstart', 'success', []]]]],
    ])
    const check = outcome.root.tasks[0]
    assert.deepEqual(check?.result, { vm: seen.uuid, durationMs: value.durationMs })
    assert.deepEqual(inventory(f.sim), before, 'no VM, VBD, VIF, VDI or guest metrics left')
    assert.equal(
      (f.sim.db.get('VM', f.ref('vms', 'app')).VBDs as string[]).length,
      appDisks,
      'source untouched',
    )
    // Tagged, then unplugged from networks, then started; then shut down, destroyed, disks destroyed.
    const at = (method: string): number => calls.indexOf(method)
    for (const [a, b] of [
      ['VM.add_tags', 'VIF.destroy'],
      ['VIF.destroy', 'Async.VM.start'],
      ['Async.VM.start', 'Async.VM.hard_shutdown'],
      ['Async.VM.hard_shutdown', 'Async.VM.destroy'],
      ['Async.VM.destroy', 'Async.VDI.destroy'],
    ] as const)
      assert.ok(at(a) >= 0 && at(a) < at(b), `${a} before ${b} in ${calls.join(', ')}`)
    assert.equal(calls.filter((c) => c === 'Async.VDI.destroy').length, 2, 'both disks destroyed')
  })

  it('tags the VM xo:no-bak and boots it without VIFs', TIMEOUT, async () => {
    const ref = await cloneOf(f, 'app', 'watched')()
    let whileRunning: { tags: string[]; vifs: string[] } | undefined
    const watcher = until(() => {
      const record = f.sim.db.find('VM', ref)
      if (record?.power_state !== 'Running') return false
      whileRunning = { tags: record.tags as string[], vifs: record.VIFs as string[] }
      return true
    }, 'the VM running')
    const outcome = await underTask((task) => healthCheckVm(f.xapi, options({ vmRef: ref }), task))
    await watcher
    assert.equal(outcome.error, undefined)
    assert.ok(whileRunning !== undefined, 'seen running')
    assert.ok(whileRunning.tags.includes(HEALTH_CHECK_NO_BAK_TAG), 'tagged xo:no-bak=Health Check')
    assert.deepEqual(whileRunning.vifs, [], 'no VIF while it runs')
    assert.equal(f.sim.db.find('VM', ref), undefined, 'destroyed')
  })

  it('works over XML-RPC too', TIMEOUT, async () => {
    const xml = new HttpXapiClient({
      url: f.sim.url,
      user: f.sim.username,
      password: f.sim.password,
      transport: 'xml-rpc',
    })
    await xml.connect()
    try {
      const before = inventory(f.sim)
      const outcome = await underTask((task) =>
        healthCheckVm(xml, options({ makeVm: cloneOf(f, 'app', 'over xml') }), task),
      )
      assert.equal(outcome.error, undefined)
      assert.deepEqual(inventory(f.sim), before)
    } finally {
      await xml.disconnect()
    }
  })

  it(
    '(d) a refused VM.start fails with the VM named and XAPI’s error; nothing is left',
    TIMEOUT,
    async () => {
      const before = inventory(f.sim)
      const ref = await cloneOf(f, 'app', 'blocked clone')()
      const uuid = f.sim.db.get('VM', ref).uuid as string
      await f.xapi.call('VM.add_to_blocked_operations', [ref, 'start', BLOCKED])
      const outcome = await underTask((task) => healthCheckVm(f.xapi, options({ vmRef: ref }), task))
      assert.throws(
        () => {
          throw outcome.error
        },
        healthCheckError(
          'HEALTH_CHECK_START_FAILED',
          new RegExp(`^VM\\.start of blocked clone \\(${uuid}\\) failed: VM\\.start: OPERATION_BLOCKED`),
        ),
      )
      assert.equal((outcome.error as HealthCheckError).details?.xapiCode, 'OPERATION_BLOCKED')
      assert.deepEqual(shape(outcome.root), [
        'test',
        'failure',
        [['health check', 'failure', [['vmstart', 'failure', []]]]],
      ])
      assert.deepEqual(inventory(f.sim), before, 'the VM and its disks are destroyed all the same')
    },
  )

  it(
    '(e) a replica is cloned when its disks are on the SR: startable, named, tagged, then gone',
    TIMEOUT,
    async () => {
      const before = inventory(f.sim)
      const replica = f.ref('vms', 'replica')
      let made: { name: string; tags: string[]; blocked: Record<string, string>; srs: string[] } | undefined
      const outcome = await underTask((task) =>
        healthCheckVm(
          f.xapi,
          options({
            makeVm: async (t) => {
              const ref = await cloneForHealthCheck(
                f.xapi,
                { replicaRef: replica, srRef: f.ref('srs', 'Local') },
                t,
              )
              const record = f.sim.db.get('VM', ref)
              made = {
                name: record.name_label as string,
                tags: record.tags as string[],
                blocked: record.blocked_operations as Record<string, string>,
                srs: (record.VBDs as string[]).map(
                  (vbd) => f.sim.db.get('VDI', f.sim.db.get('VBD', vbd).VDI as string).SR as string,
                ),
              }
              return ref
            },
          }),
          task,
        ),
      )
      assert.equal(outcome.error, undefined)
      assert.equal(made?.name, 'replica - health check')
      assert.ok(made.tags.includes(HEALTH_CHECK_NO_BAK_TAG), 'tagged at once')
      assert.deepEqual(made.blocked, {}, 'start not blocked')
      assert.deepEqual(made.srs, [f.ref('srs', 'Local')])
      assert.deepEqual(shape(outcome.root), [
        'test',
        'success',
        [
          [
            'health check',
            'success',
            [
              ['cloning-vm', 'success', []],
              ['vmstart', 'success', []],
            ],
          ],
        ],
      ])
      assert.deepEqual(inventory(f.sim), before)
      assert.deepEqual(
        f.sim.db.get('VM', replica).blocked_operations,
        { start: BLOCKED, start_on: BLOCKED },
        'replica untouched',
      )
    },
  )

  it(
    '(e) a replica on another SR is copied to the health check SR, then gone from both',
    TIMEOUT,
    async () => {
      const before = inventory(f.sim)
      const local = f.ref('srs', 'Local')
      let srs: string[] = []
      const outcome = await underTask((task) =>
        healthCheckVm(
          f.xapi,
          options({
            makeVm: async (t) => {
              const ref = await cloneForHealthCheck(
                f.xapi,
                { replicaRef: f.ref('vms', 'far replica'), srRef: local },
                t,
              )
              srs = (f.sim.db.get('VM', ref).VBDs as string[]).map(
                (vbd) => f.sim.db.get('VDI', f.sim.db.get('VBD', vbd).VDI as string).SR as string,
              )
              return ref
            },
          }),
          task,
        ),
      )
      assert.equal(outcome.error, undefined)
      assert.deepEqual(srs, [local], 'the copy lives on the health check SR')
      assert.deepEqual(shape(outcome.root), [
        'test',
        'success',
        [
          [
            'health check',
            'success',
            [
              ['copying-vm', 'success', []],
              ['vmstart', 'success', []],
            ],
          ],
        ],
      ])
      assert.deepEqual(inventory(f.sim), before)
    },
  )

  it('a refused clone fails naming the replica, and makes nothing', TIMEOUT, async () => {
    const before = inventory(f.sim)
    f.sim.faults.failTask('VM.clone', { code: 'SR_FULL', params: ['4194304', '0'] })
    const replica = f.sim.db.get('VM', f.ref('vms', 'replica'))
    const outcome = await underTask((task) =>
      healthCheckVm(
        f.xapi,
        options({
          makeVm: (t) =>
            cloneForHealthCheck(
              f.xapi,
              { replicaRef: f.ref('vms', 'replica'), srRef: f.ref('srs', 'Local') },
              t,
            ),
        }),
        task,
      ),
    )
    assert.throws(
      () => {
        throw outcome.error
      },
      healthCheckError(
        'HEALTH_CHECK_PREPARE_FAILED',
        new RegExp(
          `^VM\\.clone of replica replica \\(${replica.uuid as string}\\) for its health check failed: .*SR_FULL`,
        ),
      ),
    )
    assert.deepEqual(shape(outcome.root), [
      'test',
      'failure',
      [['health check', 'failure', [['cloning-vm', 'failure', []]]]],
    ])
    assert.deepEqual(inventory(f.sim), before)
  })

  it('retries a disk XAPI says is still in use, then destroys it', TIMEOUT, async () => {
    const before = inventory(f.sim)
    f.sim.faults.failCall('Async.VDI.destroy', { code: 'VDI_IN_USE', params: ['OpaqueRef:x', 'destroy'] })
    const outcome = await underTask((task) =>
      healthCheckVm(f.xapi, options({ makeVm: cloneOf(f, 'app', 'sticky disk') }), task),
    )
    assert.equal(outcome.error, undefined)
    assert.deepEqual(inventory(f.sim), before)
  })

  it(
    'never destroys a disk another VM uses: the check then fails, naming what was left',
    TIMEOUT,
    async () => {
      const ref = await cloneOf(f, 'app', 'shares a disk')()
      const vbd = (f.sim.db.get('VM', ref).VBDs as string[])[0] ?? ''
      const shared = f.sim.db.get('VBD', vbd).VDI as string
      const sharedUuid = f.sim.db.get('VDI', shared).uuid as string
      const other = await f.xapi.call('VBD.create', [
        {
          VM: f.ref('vms', 'app'),
          VDI: shared,
          userdevice: '7',
          bootable: false,
          mode: 'RW',
          type: 'Disk',
          empty: false,
          other_config: {},
          qos_algorithm_type: '',
          qos_algorithm_params: {},
        },
      ])
      try {
        const outcome = await underTask((task) => healthCheckVm(f.xapi, options({ vmRef: ref }), task))
        assert.throws(
          () => {
            throw outcome.error
          },
          healthCheckError(
            'HEALTH_CHECK_CLEANUP_FAILED',
            new RegExp(`left VDI ${sharedUuid} \\(also used by app \\(`),
          ),
        )
        assert.equal(f.sim.db.find('VM', ref), undefined, 'the VM itself is gone')
        assert.ok(f.sim.db.find('VDI', shared) !== undefined, 'the shared disk stays')
        assert.equal(outcome.root.tasks[0]?.warnings.length, 1, 'one warning names it')
      } finally {
        await f.xapi.call('VBD.destroy', [other])
        await f.xapi.call('VDI.destroy', [shared])
      }
    },
  )

  it('refuses, untouched, a VM that is not disposable: running, snapshot', TIMEOUT, async () => {
    const web = f.ref('vms', 'web')
    const before = inventory(f.sim)
    const running = await underTask((task) => healthCheckVm(f.xapi, options({ vmRef: web }), task))
    assert.throws(
      () => {
        throw running.error
      },
      healthCheckError(
        'HEALTH_CHECK_VM_REFUSED',
        /^web \(.+\) is not a disposable VM to health-check: it is Running/,
      ),
    )
    assert.equal(f.sim.db.get('VM', web).power_state, 'Running')
    assert.deepEqual(inventory(f.sim), before, 'nothing destroyed, not even its VIFs')
    const snapshot = await f.xapi.callAsync('VM.snapshot', [web, 'a snapshot'])
    try {
      const outcome = await underTask((task) => healthCheckVm(f.xapi, options({ vmRef: snapshot }), task))
      assert.throws(
        () => {
          throw outcome.error
        },
        healthCheckError('HEALTH_CHECK_VM_REFUSED', /it is a snapshot/),
      )
      assert.ok(f.sim.db.find('VM', snapshot) !== undefined, 'the snapshot stays')
    } finally {
      for (const vbd of f.sim.db.get('VM', snapshot).VBDs as string[]) {
        const vdi = f.sim.db.get('VBD', vbd).VDI as string
        await f.xapi.call('VM.destroy', [snapshot]).catch(() => undefined)
        await f.xapi.call('VDI.destroy', [vdi])
      }
    }
  })

  it('refuses bad options before starting anything', TIMEOUT, async () => {
    const app = f.ref('vms', 'app')
    for (const timeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '600000' as unknown as number]) {
      const outcome = await underTask((task) =>
        healthCheckVm(f.xapi, options({ vmRef: app }, { timeoutMs }), task),
      )
      assert.throws(
        () => {
          throw outcome.error
        },
        healthCheckError(
          'HEALTH_CHECK_OPTION_INVALID',
          /^health check: timeoutMs: expected a positive number/,
        ),
      )
      assert.deepEqual(outcome.root.tasks, [], 'no health check task')
    }
    for (const vmRef of ['', 'OpaqueRef:NULL', 'vm-1', 42 as unknown as string]) {
      const outcome = await underTask((task) => healthCheckVm(f.xapi, options({ vmRef }), task))
      assert.throws(
        () => {
          throw outcome.error
        },
        healthCheckError('HEALTH_CHECK_OPTION_INVALID', /^health check: vmRef: expected a VM OpaqueRef/),
      )
    }
    const bad = await underTask((task) =>
      healthCheckVm(f.xapi, options({ makeVm: () => Promise.resolve('OpaqueRef:NULL') }), task),
    )
    assert.throws(
      () => {
        throw bad.error
      },
      healthCheckError('HEALTH_CHECK_OPTION_INVALID', /the ref makeVm returned/),
    )
    assert.equal(f.sim.db.get('VM', app).power_state, 'Halted')
  })

  it('a signal aborted from the start still destroys the VM handed over', TIMEOUT, async () => {
    const before = inventory(f.sim)
    const ref = await cloneOf(f, 'app', 'handed over')()
    const abort = new AbortController()
    abort.abort()
    const outcome = await underTask((task) =>
      healthCheckVm(f.xapi, options({ vmRef: ref }, { signal: abort.signal }), task),
    )
    assert.equal((outcome.error as Error | undefined)?.name, 'AbortError')
    assert.deepEqual(inventory(f.sim), before)
  })

  it('an unknown VM ref fails with XAPI’s HANDLE_INVALID', TIMEOUT, async () => {
    const before = inventory(f.sim)
    const outcome = await underTask((task) =>
      healthCheckVm(f.xapi, options({ vmRef: 'OpaqueRef:00000000-0000-4000-8000-000000000000' }), task),
    )
    assert.equal((outcome.error as { code?: string }).code, 'HANDLE_INVALID')
    assert.deepEqual(inventory(f.sim), before)
  })
})

describe('health check, a server without usable events', () => {
  let f: Fixture
  before(async () => {
    f = await startFixture({}, { taskPollIntervalMs: 20 })
  })
  after(async () => {
    await f.close()
  })

  it('polls the VM and its guest metrics instead', TIMEOUT, async () => {
    const before = inventory(f.sim)
    for (let i = 0; i < 200; i++)
      f.sim.faults.failCall('event.from', { code: 'MESSAGE_METHOD_UNKNOWN', params: ['event.from'] })
    try {
      const outcome = await underTask((task) =>
        healthCheckVm(f.xapi, options({ makeVm: cloneOf(f, 'app', 'polled') }), task),
      )
      assert.equal(outcome.error, undefined)
      assert.deepEqual(inventory(f.sim), before)
    } finally {
      f.sim.faults.reset()
    }
  })
})

describe('health check, guests without tools', () => {
  let f: Fixture
  before(async () => {
    f = await startFixture({ guest: { pvDrivers: false } })
  })
  after(async () => {
    await f.close()
  })

  /** Starts a check of a clone of `app`; resolves once it runs and its guest tools are awaited. */
  async function startWaiting(
    rest: Partial<HealthCheckVmOptions>,
    name: string,
  ): Promise<{ readonly done: Promise<Awaited<ReturnType<typeof underTask<unknown>>>> }> {
    const sink = new MemorySink()
    const done = underTask(
      (task) => healthCheckVm(f.xapi, options({ makeVm: cloneOf(f, 'app', name) }, rest), task),
      sink,
    )
    await until(
      () => sink.events.some((e) => e.event === 'task.info' && e.message === RUNNING_INFO),
      'the guest tools to be awaited',
    )
    return { done }
  }

  it('(b) times out with the reason, and leaves nothing', TIMEOUT, async () => {
    const before = inventory(f.sim)
    const { clock, expire } = deadlineClock(7 * MIN)
    const check = await startWaiting({ clock, timeoutMs: 7 * MIN }, 'no tools')
    const [uuid] = f.sim.db
      .select('VM', (r) => r.name_label === 'no tools')
      .map((ref) => f.sim.db.get('VM', ref).uuid as string)
    expire()
    const outcome = await check.done
    assert.throws(
      () => {
        throw outcome.error
      },
      healthCheckError(
        'HEALTH_CHECK_TIMEOUT',
        new RegExp(
          `^the guest of no tools \\(${uuid ?? 'none'}\\) did not report its PV drivers within 7 min$`,
        ),
      ),
    )
    assert.deepEqual(shape(outcome.root), [
      'test',
      'failure',
      [['health check', 'failure', [['vmstart', 'failure', []]]]],
    ])
    assert.deepEqual(inventory(f.sim), before)
  })

  it('(c) an abort mid-wait ends the check at once, and leaves nothing', TIMEOUT, async () => {
    const before = inventory(f.sim)
    const abort = new AbortController()
    const check = await startWaiting({ signal: abort.signal }, 'aborted')
    abort.abort()
    const outcome = await check.done
    assert.equal((outcome.error as Error | undefined)?.name, 'AbortError')
    assert.deepEqual(shape(outcome.root), [
      'test',
      'failure',
      [['health check', 'failure', [['vmstart', 'failure', []]]]],
    ])
    assert.deepEqual(inventory(f.sim), before)
  })
})

describe('health check, guests whose tools come up late', () => {
  // One clock the test moves for the simulator (the tools timer) and the check (its deadline).
  let clock: ManualClock
  let f: Fixture
  before(async () => {
    clock = createManualClock()
    f = await startFixture({ clock, guest: { pvDriversDelayMs: 3 * MIN } })
  })
  after(async () => {
    await f.close()
  })

  async function startWaiting(timeoutMs: number, name: string) {
    const sink = new MemorySink()
    const done = underTask(
      (task) =>
        healthCheckVm(f.xapi, options({ makeVm: cloneOf(f, 'app', name) }, { clock, timeoutMs }), task),
      sink,
    )
    await until(
      () => sink.events.some((e) => e.event === 'task.info' && e.message === RUNNING_INFO),
      'the guest tools to be awaited',
    )
    return { done }
  }

  it(
    'tools 3 min after boot, within a 10 min budget: passes after exactly 3 min of the clock',
    TIMEOUT,
    async () => {
      const before = inventory(f.sim)
      const check = await startWaiting(10 * MIN, 'late tools')
      clock.advance(3 * MIN - 1)
      await delay(50) // nothing may come of it: the tools are one millisecond short
      clock.advance(1)
      const outcome = await check.done
      assert.equal(outcome.error, undefined)
      assert.equal((outcome.value as { durationMs?: number } | undefined)?.durationMs, 3 * MIN)
      assert.deepEqual(inventory(f.sim), before)
      assert.equal(clock.sleepers, 0, 'no timer left: neither the deadline nor the tools')
    },
  )

  it('tools 3 min after boot, with a 2 min budget: times out, and leaves nothing', TIMEOUT, async () => {
    const before = inventory(f.sim)
    const check = await startWaiting(2 * MIN, 'too late tools')
    clock.advance(2 * MIN)
    const outcome = await check.done
    assert.throws(
      () => {
        throw outcome.error
      },
      healthCheckError(
        'HEALTH_CHECK_TIMEOUT',
        /^the guest of too late tools \(.+\) did not report its PV drivers within 2 min$/,
      ),
    )
    assert.deepEqual(inventory(f.sim), before)
    assert.equal(clock.sleepers, 0, "the destroyed VM's tools timer went with it")
  })
})
