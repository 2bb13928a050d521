import type { MethodDef } from '../context.ts'
import { CLASSES } from '../schema/index.ts'
import { accessorMethods } from './accessors.ts'
import { deviceMethods } from './devices.ts'
import { eventMethods } from './event.ts'
import { miscMethods } from './misc.ts'
import { sessionMethods } from './session.ts'
import { taskMethods } from './task.ts'
import { vdiMethods } from './vdi.ts'
import { vdiCbtMethods } from './vdi-cbt.ts'
import { vmMethods } from './vm.ts'
import { vmCopyMethods } from './vm-copy.ts'
import { vmMigrateMethods } from './vm-migrate.ts'

/** Differences of older XAPI versions the simulator can emulate. */
export interface XapiVersionOptions {
  /** Emulate XAPI before 21.4.0: `VM.snapshot` has no `ignore_vdis` parameter (xapi.md §2.3). */
  readonly withoutIgnoreVdis?: boolean
}

/**
 * Every wire method of the simulator, by name: the generated accessors first, then the
 * hand-written methods, which replace a generated one of the same name.
 */
export function buildMethodTable(version: XapiVersionOptions = {}): Map<string, MethodDef> {
  const table = new Map<string, MethodDef>()
  for (const schema of CLASSES) for (const def of accessorMethods(schema)) table.set(def.name, def)
  for (const def of [
    ...sessionMethods(),
    ...taskMethods(),
    ...eventMethods(),
    ...vmMethods(),
    ...vmCopyMethods(),
    ...vmMigrateMethods(),
    ...vdiMethods(),
    ...vdiCbtMethods(),
    ...deviceMethods(),
    ...miscMethods(),
  ])
    table.set(def.name, def)
  const snapshot = table.get('VM.snapshot')
  if (version.withoutIgnoreVdis === true && snapshot !== undefined) {
    table.set('VM.snapshot', {
      ...snapshot,
      params: snapshot.params.filter((param) => param.name !== 'ignore_vdis'),
    })
  }
  return table
}
