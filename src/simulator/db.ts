import { newUuid } from '../shared/ids.ts'
import { BINDINGS, classSchema } from './schema/index.ts'
import type { ClassSchema } from './schema/field.ts'
import type { Value, XapiRecord } from './types.ts'
import { NULL_REF } from './types.ts'
import { XapiFault, handleInvalid } from './xapi-fault.ts'

/** Generations of a live object: when it was created and last modified (xapi.md §1.7). */
export interface ObjectGenerations {
  readonly cls: string
  readonly ref: string
  readonly created: number
  readonly modified: number
}

/** Told when a VDI gets contents (fresh, or copied from `origin`) and when it is destroyed (the data plane's storage). */
export interface ContentListener {
  bound(vdi: string, handle: string, origin: string | undefined): void
  released(vdi: string, handle: string): void
}

/** A deleted object remembered so `event.from` can report its `del`. */
export interface Tombstone {
  readonly cls: string
  readonly ref: string
  readonly created: number
  readonly deleted: number
}

const MAX_TOMBSTONES = 100_000

/** Makes a fresh `OpaqueRef:<uuid>` (xapi.md §1.5). */
export function newRef(): string {
  return `OpaqueRef:${newUuid()}`
}

/**
 * The simulator's object database: one table per class of the field tables in `schema/`, bound
 * fields kept consistent (VBD.VM ↔ VM.VBDs …), and a generation counter bumped by every write
 * so `event.from` can report adds, mods and dels (xapi.md §1.7). Records are frozen: read them
 * freely, change them only through `create`/`update`/`destroy`.
 */
export class SimulatorDb {
  private readonly tables = new Map<string, Map<string, XapiRecord>>()
  private readonly generations = new Map<string, { cls: string; created: number; modified: number }>()
  private readonly tombstones: Tombstone[] = []
  private readonly waiters = new Set<() => void>()
  private readonly contentHandles = new Map<string, { handle: string; origin: string | undefined }>()
  private contentListener: ContentListener | undefined
  private generation = 0
  private forgottenUpTo = 0
  private readonly maxTombstones: number

  /** `maxTombstones` bounds the deletions remembered for event.from (default 100 000). */
  constructor(options: { readonly maxTombstones?: number } = {}) {
    this.maxTombstones = options.maxTombstones ?? MAX_TOMBSTONES
  }

  /** The generation of the last write (0 before any). */
  get currentGeneration(): number {
    return this.generation
  }

  /** Creates an object of `cls` from `fields` (defaults filled in, uuid generated) and returns its ref. */
  create(cls: string, fields: Readonly<Record<string, Value>>, ref: string = newRef()): string {
    const schema = this.schema(cls)
    const record: XapiRecord = {}
    for (const field of schema.fields) {
      const value = fields[field.name] ?? field.default
      if (value === undefined) {
        throw new XapiFault('INTERNAL_ERROR', [`Server_helpers.Dispatcher_FieldNotFound("${field.name}")`])
      }
      record[field.name] = value
    }
    if (record.uuid === '' || record.uuid === undefined) record.uuid = newUuid()
    this.table(cls).set(ref, Object.freeze(record))
    const generation = this.bump()
    this.generations.set(ref, { cls, created: generation, modified: generation })
    for (const binding of BINDINGS) {
      if (binding.cls === cls) this.link(binding.inverseCls, record[binding.field], binding.inverseField, ref)
    }
    return ref
  }

  /** The record of `ref` in `cls`; throws `HANDLE_INVALID [cls, ref]` when absent. */
  get(cls: string, ref: string): XapiRecord {
    const record = this.find(cls, ref)
    if (record === undefined) throw handleInvalid(cls, ref)
    return record
  }

  /** The record of `ref` in `cls`, or undefined. */
  find(cls: string, ref: string): XapiRecord | undefined {
    return this.tables.get(cls)?.get(ref)
  }

  /** Every `[ref, record]` of `cls`, in creation order. */
  all(cls: string): [string, XapiRecord][] {
    return [...(this.tables.get(cls) ?? new Map<string, XapiRecord>())]
  }

  /** The refs of `cls` whose record satisfies `predicate`. */
  select(cls: string, predicate: (record: XapiRecord) => boolean): string[] {
    return this.all(cls)
      .filter(([, record]) => predicate(record))
      .map(([ref]) => ref)
  }

  /** The class of a live `ref`, or undefined. */
  classOf(ref: string): string | undefined {
    return this.generations.get(ref)?.cls
  }

  /** Replaces fields of an object (bound fields follow) and emits a `mod`. */
  update(cls: string, ref: string, patch: Readonly<Record<string, Value>>): XapiRecord {
    const before = this.get(cls, ref)
    const after: XapiRecord = { ...before, ...patch }
    this.table(cls).set(ref, Object.freeze(after))
    this.touch(cls, ref)
    for (const binding of BINDINGS) {
      if (binding.cls !== cls || !(binding.field in patch) || before[binding.field] === after[binding.field])
        continue
      this.unlink(binding.inverseCls, before[binding.field], binding.inverseField, ref)
      this.link(binding.inverseCls, after[binding.field], binding.inverseField, ref)
    }
    return after
  }

  /** Deletes an object (removing it from bound sets) and emits a `del`; forward refs elsewhere dangle, as in XAPI. */
  destroy(cls: string, ref: string): void {
    const record = this.get(cls, ref)
    this.table(cls).delete(ref)
    const meta = this.generations.get(ref)
    this.generations.delete(ref)
    for (const binding of BINDINGS) {
      if (binding.cls === cls)
        this.unlink(binding.inverseCls, record[binding.field], binding.inverseField, ref)
    }
    const content = this.contentHandles.get(ref)
    this.contentHandles.delete(ref)
    if (content !== undefined) this.contentListener?.released(ref, content.handle)
    this.tombstones.push({ cls, ref, created: meta?.created ?? 0, deleted: this.bump() })
    // Bounded memory: old deletions are forgotten, and tokens from before them get EVENTS_LOST.
    if (this.tombstones.length > this.maxTombstones) {
      const dropped = this.tombstones.splice(0, Math.ceil(this.maxTombstones / 2))
      this.forgottenUpTo = dropped.at(-1)?.deleted ?? this.forgottenUpTo
    }
  }

  /** Deletions up to this generation are forgotten: an older event.from token must refetch (EVENTS_LOST). */
  get forgottenGeneration(): number {
    return this.forgottenUpTo
  }

  /** The opaque handle of a VDI's contents (the data-plane issue gives it meaning), or undefined. */
  contentHandle(vdi: string): string | undefined {
    return this.contentHandles.get(vdi)?.handle
  }

  /** The content handle a snapshot, clone or copy was made from (for copy-on-write), or undefined. */
  contentOrigin(vdi: string): string | undefined {
    return this.contentHandles.get(vdi)?.origin
  }

  /** Points a VDI at a content handle, made from `origin` if given (not a XAPI field, so no event). */
  setContentHandle(vdi: string, handle: string, origin?: string): void {
    this.contentHandles.set(vdi, { handle, origin })
    this.contentListener?.bound(vdi, handle, origin)
  }

  /** Sets the one listener of content handle changes (the simulator's VDI storage). */
  setContentListener(listener: ContentListener): void {
    this.contentListener = listener
  }

  /** Marks an object modified without changing it (event.inject, xapi.md §1.7); returns the new generation. */
  touch(cls: string, ref: string): number {
    const meta = this.generations.get(ref)
    if (meta?.cls !== cls) throw handleInvalid(cls, ref)
    meta.modified = this.bump()
    return meta.modified
  }

  /** Live objects of `classes` modified after `generation`. */
  changedSince(generation: number, classes: ReadonlySet<string>): ObjectGenerations[] {
    const out: ObjectGenerations[] = []
    for (const [ref, meta] of this.generations) {
      if (meta.modified > generation && classes.has(meta.cls)) out.push({ ref, ...meta })
    }
    return out
  }

  /** Objects of `classes` deleted after `generation` that existed at `generation`. */
  deletedSince(generation: number, classes: ReadonlySet<string>): Tombstone[] {
    return this.tombstones.filter(
      (d) => d.deleted > generation && d.created <= generation && classes.has(d.cls),
    )
  }

  /** Resolves once the generation exceeds `generation`, or when `signal` aborts. */
  async waitForChange(generation: number, signal: AbortSignal): Promise<void> {
    if (this.generation > generation || signal.aborted) return
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        this.waiters.delete(wake)
        signal.removeEventListener('abort', wake)
        resolve()
      }
      this.waiters.add(wake)
      signal.addEventListener('abort', wake)
    })
  }

  private bump(): number {
    this.generation += 1
    for (const wake of [...this.waiters]) wake()
    return this.generation
  }

  private schema(cls: string): ClassSchema {
    const schema = classSchema(cls)
    if (schema === undefined) throw new XapiFault('INTERNAL_ERROR', [`unknown class ${cls}`])
    return schema
  }

  private table(cls: string): Map<string, XapiRecord> {
    let table = this.tables.get(cls)
    if (table === undefined) {
      table = new Map()
      this.tables.set(cls, table)
    }
    return table
  }

  private link(cls: string, target: Value | undefined, field: string, ref: string): void {
    if (typeof target !== 'string' || target === NULL_REF) return
    const record = this.find(cls, target)
    const set = record?.[field]
    if (!Array.isArray(set) || set.includes(ref)) return
    this.update(cls, target, { [field]: [...(set as string[]), ref] })
  }

  private unlink(cls: string, target: Value | undefined, field: string, ref: string): void {
    if (typeof target !== 'string' || target === NULL_REF) return
    const set = this.find(cls, target)?.[field]
    if (!Array.isArray(set) || !set.includes(ref)) return
    this.update(cls, target, { [field]: (set as string[]).filter((r) => r !== ref) })
  }
}
