// better-sqlite3 12 wraps its Database and Statement objects in node::ObjectWrap. From Node 24.19
// on, an ObjectWrap's destructor asserts that a Node environment is current; a garbage collection
// outside JavaScript (an idle GC, the process's teardown) has none, so collecting one of those
// objects aborts the process (`Assertion failed: (env) != nullptr`, WiseLibs/better-sqlite3#1515).
// better-sqlite3 13 fixes it but needs Node 22, and this project runs on Node 20 too (issue 12:
// `better-sqlite3@12`). So no handle is ever collected: every database and statement the store
// makes is kept for the life of the process. That is bounded: a process opens a few stores, each
// with a fixed set of SQL texts (statements are cached by text; pragmas go through the same cache).
import Database from 'better-sqlite3'

const kept = new Set<object>()

/** Keeps `handle` reachable until the process ends (see above), and returns it. */
export function keepForever<T extends object>(handle: T): T {
  kept.add(handle)
  return handle
}

/** Opens a database like `new Database(file, options)`, kept for the life of the process. */
export function openDatabase(file: string, options?: Database.Options): Database.Database {
  return keepForever(new Database(file, options))
}

const pragmaStatements = new WeakMap<Database.Database, Map<string, Database.Statement>>()

/**
 * Runs `PRAGMA <text>` on `db` through one kept statement per text (better-sqlite3's own
 * `pragma()` prepares a new statement at each call): its rows, or the first column of the first row
 * when `simple`.
 */
export function runPragma(db: Database.Database, text: string, options: { simple?: boolean } = {}): unknown {
  let statements = pragmaStatements.get(db)
  if (statements === undefined) pragmaStatements.set(db, (statements = new Map<string, Database.Statement>()))
  let statement = statements.get(text)
  if (statement === undefined) statements.set(text, (statement = keepForever(db.prepare(`PRAGMA ${text}`))))
  if (!statement.reader) {
    statement.run()
    return undefined
  }
  return options.simple === true ? statement.pluck(true).get() : statement.pluck(false).all()
}
