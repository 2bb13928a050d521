// Test support: how the XAPI tasks of a simulator ended, for "the task is not left pending".
import type { RunningSimulator } from '../../../simulator/index.ts'
import type { XapiClient } from '../../../xapi/types.ts'

/**
 * From now on, records the status each new task of `sim` had when it was destroyed (the client
 * destroys its own export tasks once they ended: one destroyed while 'pending' would mean it was
 * given up on, not ended). The returned function lists every new task: its status when destroyed,
 * or its live status.
 */
export function recordTaskEnds(sim: RunningSimulator): () => Map<string, string> {
  const ended = new Map<string, string>()
  const db = sim.db
  const known = new Set(db.all('task').map(([ref]) => ref))
  const destroy = db.destroy.bind(db)
  db.destroy = (cls: string, ref: string): void => {
    if (cls === 'task' && !known.has(ref)) ended.set(ref, db.get('task', ref).status as string)
    destroy(cls, ref)
  }
  return () => {
    const all = new Map(ended)
    for (const [ref, record] of db.all('task')) if (!known.has(ref)) all.set(ref, record.status as string)
    return all
  }
}

/** `client` with some methods replaced (a lying or misbehaving XAPI); the others run on `client`. */
export function overriding(client: XapiClient, overrides: Partial<XapiClient>): XapiClient {
  return new Proxy(client, {
    get(target, key) {
      const own: unknown = Reflect.get(overrides, key)
      if (own !== undefined) return own
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}
