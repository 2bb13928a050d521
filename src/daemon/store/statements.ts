import type Database from 'better-sqlite3'

/** Prepared statements of one database by SQL text, each compiled once. */
export type Statements = (sql: string) => Database.Statement

/** A Statements cache for `db` (statements die with the connection). */
export function createStatements(db: Database.Database): Statements {
  const cache = new Map<string, Database.Statement>()
  return (sql) => {
    let statement = cache.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      cache.set(sql, statement)
    }
    return statement
  }
}
