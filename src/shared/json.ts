/** A JSON value: what task data, results and serialised errors are made of. */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [key: string]: Json }

/** A JSON object (the shape of task data and results). */
export type JsonObject = { readonly [key: string]: Json }

/**
 * The path (`a.b.0.c`, '(root)' for the value itself) of the first value nested deeper than
 * `maxDepth` containers in a parsed JSON value, or undefined when none is. Iterative: JSON.parse
 * accepts any depth, but the recursive code that follows it (zod, JSON.stringify, structuredClone,
 * tree walks) overflows the stack at a few thousand levels, so hostile input is measured first.
 */
export function tooDeepAt(value: unknown, maxDepth: number): string | undefined {
  interface Item {
    readonly value: unknown
    readonly depth: number
    readonly parent?: Item
    readonly key?: string | number
  }
  const stack: Item[] = [{ value, depth: 0 }]
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const current: Item = item
    if (typeof current.value !== 'object' || current.value === null) continue
    if (current.depth >= maxDepth) {
      const path: (string | number)[] = []
      for (let at: Item | undefined = current; at?.key !== undefined; at = at.parent) path.unshift(at.key)
      return path.length === 0 ? '(root)' : path.join('.')
    }
    const depth = current.depth + 1
    if (Array.isArray(current.value))
      current.value.forEach((child: unknown, key) =>
        stack.push({ value: child, depth, parent: current, key }),
      )
    else
      for (const [key, child] of Object.entries(current.value))
        stack.push({ value: child, depth, parent: current, key })
  }
  return undefined
}
