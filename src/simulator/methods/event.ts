import type { CallContext, MethodDef } from '../context.ts'
import { method, p } from '../context.ts'
import { CLASSES, classSchema, classSchemaIgnoringCase } from '../schema/index.ts'
import type { Value } from '../types.ts'
import { t, typedValue } from '../types.ts'
import { XapiFault } from '../xapi-fault.ts'

const eventType = (cls: string) =>
  t.struct({
    id: t.string,
    timestamp: t.string,
    class: t.string,
    operation: t.string,
    ref: t.string,
    snapshot: t.record(cls),
  })

const fromResultType = t.struct({
  events: t.set(t.typed),
  valid_ref_counts: t.map(t.string, t.int32),
  token: t.string,
})

/** Formats a generation as an event.from token `<20 digits>,<20 digits>` (xapi.md §1.7). */
export function formatToken(generation: number): string {
  return `${String(generation).padStart(20, '0')},${'0'.padStart(20, '0')}`
}

function parseToken(token: string): number {
  if (token === '') return 0
  const match = /^(\d+)(?:,(\d+))?$/.exec(token)
  if (match?.[1] === undefined) throw new XapiFault('EVENT_FROM_TOKEN_PARSE_FAILURE', [token])
  return Number(match[1])
}

interface Subscription {
  readonly classes: Set<string>
  readonly refs: Map<string, Set<string>> // class → only these refs ("class/ref" entries)
}

function parseSubscription(entries: readonly string[]): Subscription {
  const classes = new Set<string>()
  const refs = new Map<string, Set<string>>()
  for (const entry of entries) {
    // Sessions are secrets, so "*" leaves them out.
    if (entry === '*') for (const schema of CLASSES) if (schema.name !== 'session') classes.add(schema.name)
    const [name, ref, extra] = entry.split('/')
    if (extra !== undefined) throw new XapiFault('EVENT_SUBSCRIPTION_PARSE_FAILURE', [entry])
    const schema = classSchemaIgnoringCase(name ?? '')
    if (schema === undefined) continue // an unknown class simply never has events
    if (ref === undefined) classes.add(schema.name)
    else refs.set(schema.name, (refs.get(schema.name) ?? new Set()).add(ref))
  }
  for (const cls of refs.keys()) if (!classes.has(cls)) classes.add(cls)
  return { classes, refs }
}

function collect(ctx: CallContext, sub: Subscription, since: number): Value[] {
  const wanted = (cls: string, ref: string): boolean => sub.refs.get(cls)?.has(ref) ?? true
  const event = (cls: string, ref: string, id: number, operation: string, snapshot?: Value): Value =>
    typedValue(eventType(cls), {
      id: String(id),
      timestamp: '0.0',
      class: cls.toLowerCase(),
      operation,
      ref,
      ...(snapshot === undefined ? {} : { snapshot }),
    })
  const changed = ctx.db.changedSince(since, sub.classes).filter((o) => wanted(o.cls, o.ref))
  const adds = changed.filter((o) => o.created > since)
  const mods = changed.filter((o) => o.created <= since)
  const dels = ctx.db.deletedSince(since, sub.classes).filter((o) => wanted(o.cls, o.ref))
  return [
    ...adds.map((o) => event(o.cls, o.ref, o.modified, 'add', ctx.db.get(o.cls, o.ref))),
    ...mods.map((o) => event(o.cls, o.ref, o.modified, 'mod', ctx.db.get(o.cls, o.ref))),
    ...dels.map((o) => event(o.cls, o.ref, o.deleted, 'del')),
  ]
}

async function eventFrom(
  ctx: CallContext,
  entries: readonly string[],
  token: string,
  timeoutS: number,
): Promise<Value> {
  const since = parseToken(token)
  if (since > 0 && since < ctx.db.forgottenGeneration) throw new XapiFault('EVENTS_LOST', [])
  const sub = parseSubscription(entries)
  const stop = new AbortController()
  const onAbort = (): void => {
    stop.abort()
  }
  ctx.signal.addEventListener('abort', onAbort)
  const state = { timedOut: false }
  void ctx.clock
    .sleep(Math.max(0, timeoutS) * 1000, stop.signal)
    .then(() => {
      state.timedOut = true
      stop.abort()
    })
    .catch(() => undefined)
  try {
    for (;;) {
      const generation = ctx.db.currentGeneration
      const events = collect(ctx, sub, since)
      if (events.length > 0 || state.timedOut || ctx.signal.aborted) {
        const counts: Record<string, Value> = {}
        for (const cls of sub.classes) counts[cls.toLowerCase()] = ctx.db.all(cls).length
        return { events, valid_ref_counts: counts, token: formatToken(generation) }
      }
      await ctx.db.waitForChange(generation, stop.signal)
    }
  } finally {
    ctx.signal.removeEventListener('abort', onAbort)
    stop.abort()
  }
}

/** `event.from` (blocking, tokens, grouped add/mod/del, valid_ref_counts) and `event.inject` (xapi.md §1.7). */
export function eventMethods(): MethodDef[] {
  return [
    method(
      'event.from',
      [p('classes', t.set(t.string)), p('token', t.string), p('timeout', t.float)],
      fromResultType,
      (ctx, [classes, token, timeout]) =>
        eventFrom(ctx, classes as string[], token as string, timeout as number),
    ),
    method('event.inject', [p('class', t.string), p('ref', t.string)], t.string, (ctx, [cls, ref]) => {
      if (classSchema(cls as string) === undefined)
        throw new XapiFault('HANDLE_INVALID', [cls as string, ref as string])
      return formatToken(ctx.db.touch(cls as string, ref as string) - 1)
    }),
  ]
}
