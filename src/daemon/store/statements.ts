import type Database from 'better-sqlite3'
import { keepForever } from './native-handles.ts'

/** Prepared statements of one database by SQL text, each compiled once. */
export type Statements = (sql: string) => Database.Statement

/** A Statements cache for `db`; each statement is kept for the life of the process (native-handles.ts). */
export function createStatements(db: Database.Database): Statements {
  const cache = new Map<string, Database.Statement>()
  return (sql) => {
    let statement = cache.get(sql)
    if (statement === undefined) {
      statement = keepForever(db.prepare(sql))
      cache.set(sql, statement)
    }
    return statement
  }
}
