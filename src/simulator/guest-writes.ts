import type { Clock } from '../shared/clock.ts'
import { BackupError } from '../shared/errors.ts'
import type { SimulatorDb } from './db.ts'
import type { ContentPattern } from './storage/block-content.ts'
import { STREAM, mix32, selectBlocks, uniformStream } from './storage/block-content.ts'
import { VDI_BLOCK_BYTES } from './storage/block-store.ts'
import type { SimulatorStorage } from './storage/simulator-storage.ts'
import { XapiFault } from './xapi-fault.ts'

/** `sim.guestWrite` options: which fraction (0..1) of each disk's blocks to rewrite, chosen by `seed`. */
export interface GuestWriteOptions {
  readonly seed: number
  readonly changedFraction: number
  /** What the new bytes look like (default `random`). */
  readonly pattern?: ContentPattern
}

/** The blocks one guest write changed on one live VDI, ascending. */
export interface GuestWriteResult {
  readonly vdi: string
  readonly blocks: readonly number[]
}

/** `sim.startGuestActivity` options: every tick writes `blocksPerWrite` random whole blocks. */
export interface GuestActivityOptions {
  readonly seed: number
  /** Ticks per second of the simulator's clock (default 10). */
  readonly writesPerSecond?: number
  /** Blocks rewritten per tick, each on a disk and at an index drawn from the seed (default 1). */
  readonly blocksPerWrite?: number
  /** Stop after this many ticks (default: run until `stop` or the simulator closes). */
  readonly ticks?: number
  readonly pattern?: ContentPattern
}

/** A running guest activity: counters, `done` (settles when it ends, rejects on a failure) and `stop`. */
export interface GuestActivity {
  /** Ticks that wrote (the VM was running). */
  readonly writes: number
  /** Ticks that wrote nothing because the VM was not running or had no writable disk. */
  readonly idleTicks: number
  readonly done: Promise<void>
  /** Ends the activity and waits for its last write to finish. */
  stop(): Promise<void>
}

/** A guest-write or activity option that does not fit: names the option, expected and got. */
export class GuestOptionError extends BackupError<'SIMULATOR_GUEST_OPTION_INVALID'> {
  constructor(option: string, expected: string, got: unknown) {
    super('SIMULATOR_GUEST_OPTION_INVALID', `${option}: expected ${expected}, got ${JSON.stringify(got)}`, {
      details: { option, expected },
    })
  }
}

function check(ok: boolean, option: string, expected: string, got: unknown): void {
  if (!ok) throw new GuestOptionError(option, expected, got)
}

function checkSeed(seed: unknown): void {
  check(Number.isSafeInteger(seed) && (seed as number) >= 0, 'seed', 'a non-negative integer', seed)
}

/**
 * Simulated guests writing to their disks (xapi.md §8.3 "write guest data"): whole 2 MiB blocks of
 * seeded bytes on the live VDIs of running VMs only (a halted VM's disks do not change by
 * themselves; `storage.writeBlocks` stays available for test setup). Writes take fresh slots, so
 * snapshots keep their content, and they feed CBT like any guest write.
 */
export class GuestWriter {
  private readonly activities = new Set<{ stop(): Promise<void> }>()
  private generation = 0
  private readonly db: SimulatorDb
  private readonly storage: SimulatorStorage
  private readonly clock: Clock

  constructor(db: SimulatorDb, storage: SimulatorStorage, clock: Clock) {
    this.db = db
    this.storage = storage
    this.clock = clock
  }

  /** The VM ref of `vm` given as a ref or a uuid (`UUID_INVALID ['VM', vm]` when neither). */
  resolveVm(vm: string): string {
    if (this.db.classOf(vm) === 'VM') return vm
    const ref = this.db.select('VM', (r) => r.uuid === vm)[0]
    if (ref === undefined) throw new XapiFault('UUID_INVALID', ['VM', vm])
    return ref
  }

  /**
   * Rewrites exactly round(changedFraction × blocks) blocks of each disk of the running `vm`
   * (chosen by the seed and the number of earlier guest writes), now; returns them per VDI.
   * A VM that is not running fails `VM_BAD_POWER_STATE [vm, 'running', <state>]` and writes nothing.
   */
  guestWrite(vm: string, options: GuestWriteOptions): GuestWriteResult[] {
    checkSeed(options.seed)
    const fraction = options.changedFraction
    check(typeof fraction === 'number' && fraction >= 0 && fraction <= 1, 'changedFraction', '0..1', fraction)
    const ref = this.assertRunning(this.resolveVm(vm))
    const generation = ++this.generation
    return this.writableDisks(ref).map((vdi, disk) => {
      const total = this.blockCount(vdi)
      const selection = mix32(STREAM.guestSelection, options.seed, generation, disk)
      const blocks = selectBlocks(total, Math.round(fraction * total), selection)
      const key = mix32(STREAM.guestContent, options.seed, generation, disk)
      this.storage.writeGenerated(vdi, blocks, key, options.pattern ?? 'random')
      return { vdi, blocks }
    })
  }

  /**
   * Starts writes on `vm` at `writesPerSecond` ticks of the simulator's clock: each tick of a
   * running VM rewrites `blocksPerWrite` blocks drawn from the seed; ticks of a VM that is not
   * running write nothing. Ends on `stop`, after `ticks`, when the VM is destroyed, or on close.
   */
  startActivity(vm: string, options: GuestActivityOptions): GuestActivity {
    checkSeed(options.seed)
    const rate = options.writesPerSecond ?? 10
    check(Number.isFinite(rate) && rate > 0, 'writesPerSecond', 'a positive number', rate)
    const perWrite = options.blocksPerWrite ?? 1
    check(Number.isSafeInteger(perWrite) && perWrite >= 1, 'blocksPerWrite', 'a positive integer', perWrite)
    const ticks = options.ticks
    check(
      ticks === undefined || (Number.isSafeInteger(ticks) && ticks >= 0),
      'ticks',
      'an integer ≥ 0',
      ticks,
    )
    const ref = this.resolveVm(vm)
    const controller = new AbortController()
    const random = uniformStream(mix32(STREAM.activitySelection, options.seed))
    const state = { writes: 0, idleTicks: 0 }
    const tick = (n: number): void => {
      const running = this.db.get('VM', ref).power_state === 'Running'
      const disks = running ? this.writableDisks(ref).filter((vdi) => this.blockCount(vdi) > 0) : []
      if (disks.length === 0) {
        state.idleTicks++
        return
      }
      for (let j = 0; j < perWrite; j++) {
        const vdi = disks[Math.floor(random() * disks.length)] as string
        const index = Math.floor(random() * this.blockCount(vdi))
        const key = mix32(STREAM.activity, options.seed, n, j)
        this.storage.writeGenerated(vdi, [index], key, options.pattern ?? 'random')
      }
      state.writes++
    }
    const run = async (): Promise<void> => {
      for (let n = 0; ticks === undefined || n < ticks; n++) {
        await this.clock.sleep(1000 / rate, controller.signal)
        // A test clock's sleep returns at once: let I/O and the test run between ticks.
        await new Promise((resolve) => setImmediate(resolve))
        if (controller.signal.aborted || this.db.find('VM', ref) === undefined) return
        tick(n)
      }
    }
    const done = run().catch((error: unknown) => {
      if (!controller.signal.aborted) throw error
    })
    const handle = {
      stop: async () => {
        controller.abort()
        await done.catch(() => undefined)
      },
    }
    this.activities.add(handle)
    void done.finally(() => this.activities.delete(handle)).catch(() => undefined)
    return {
      get writes() {
        return state.writes
      },
      get idleTicks() {
        return state.idleTicks
      },
      done,
      stop: handle.stop,
    }
  }

  /** Stops every activity (the simulator closes). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.activities].map((activity) => activity.stop()))
  }

  private assertRunning(vm: string): string {
    const state = this.db.get('VM', vm).power_state as string
    if (state !== 'Running') throw new XapiFault('VM_BAD_POWER_STATE', [vm, 'running', state.toLowerCase()])
    return vm
  }

  // The VM's own writable disks in userdevice order: its live VDIs, never its snapshots' VDIs.
  private writableDisks(vm: string): string[] {
    const vbds = (this.db.get('VM', vm).VBDs as string[]).map((ref) => this.db.get('VBD', ref))
    return vbds
      .filter((vbd) => vbd.type === 'Disk' && vbd.empty !== true && vbd.mode === 'RW')
      .sort((a, b) => Number(a.userdevice) - Number(b.userdevice))
      .map((vbd) => vbd.VDI as string)
      .filter((vdi) => {
        const record = this.db.find('VDI', vdi)
        return record !== undefined && record.read_only !== true && record.type !== 'cbt_metadata'
      })
  }

  private blockCount(vdi: string): number {
    return Math.ceil((this.db.get('VDI', vdi).virtual_size as number) / VDI_BLOCK_BYTES)
  }
}
