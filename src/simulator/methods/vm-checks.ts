import type { SimulatorDb } from '../db.ts'
import { XapiFault } from '../xapi-fault.ts'

type PowerState = 'Halted' | 'Paused' | 'Running' | 'Suspended'

// xapi.md §2.2 table (`xapi_vm_lifecycle.ml allowed_power_states`).
const ALLOWED_POWER_STATES: Readonly<Record<string, readonly PowerState[]>> = {
  checkpoint: ['Paused', 'Suspended', 'Running'],
  hard_shutdown: ['Paused', 'Suspended', 'Running'],
  clone: ['Halted'],
  copy: ['Halted'],
  export: ['Halted', 'Suspended'],
  destroy: ['Halted', 'Suspended'],
  start: ['Halted'],
  start_on: ['Halted'],
  make_into_template: ['Halted'],
  clean_shutdown: ['Running'],
  clean_reboot: ['Running'],
  hard_reboot: ['Paused', 'Running'],
  suspend: ['Running'],
  pool_migrate: ['Running'],
  resume: ['Suspended'],
  migrate_send: ['Halted', 'Suspended', 'Running'],
}

// Operations that may run together on one VM (xapi.md §2.2 item 3).
const COMPATIBLE_GROUPS: readonly ReadonlySet<string>[] = [
  new Set(['clone', 'copy', 'export']),
  new Set(['snapshot', 'checkpoint']),
]

const TEMPLATE_OPERATIONS = new Set(['clone', 'copy', 'export', 'metadata_export', 'provision', 'destroy'])
const SNAPSHOT_OPERATIONS = new Set([
  'revert',
  'clone',
  'copy',
  'export',
  'destroy',
  'hard_shutdown',
  'metadata_export',
])

function assertNoConflict(
  vm: string,
  op: string,
  current: Readonly<Record<string, string>>,
  self: string,
): void {
  for (const [task, running] of Object.entries(current)) {
    if (task === self) continue
    if (!COMPATIBLE_GROUPS.some((group) => group.has(op) && group.has(running))) {
      throw new XapiFault('OTHER_OPERATION_IN_PROGRESS', ['VM', vm, running, task])
    }
  }
}

/**
 * Raises the first error of XAPI's VM operation checks (xapi.md §2.2, in order): blocked
 * operation, power state, other operation in progress (except the caller's own `self`),
 * template, snapshot, control domain.
 */
export function assertVmOperation(db: SimulatorDb, vm: string, op: string, self = ''): void {
  const record = db.get('VM', vm)
  const blocked = record.blocked_operations as Readonly<Record<string, string>>
  if (Object.hasOwn(blocked, op)) throw new XapiFault('OPERATION_BLOCKED', [vm, blocked[op] ?? ''])
  const state = record.power_state as PowerState
  let allowed = ALLOWED_POWER_STATES[op]
  if ((op === 'clone' || op === 'copy') && record.is_a_snapshot === true) allowed = ['Halted', 'Suspended']
  if (allowed !== undefined && !allowed.includes(state)) {
    throw new XapiFault('VM_BAD_POWER_STATE', [
      vm,
      allowed.map((s) => s.toLowerCase()).join(', '),
      state.toLowerCase(),
    ])
  }
  assertNoConflict(vm, op, record.current_operations as Readonly<Record<string, string>>, self)
  if (record.is_a_template === true && record.is_a_snapshot !== true && !TEMPLATE_OPERATIONS.has(op)) {
    throw new XapiFault('VM_IS_TEMPLATE', [vm, op])
  }
  if (record.is_a_snapshot === true && !SNAPSHOT_OPERATIONS.has(op))
    throw new XapiFault('VM_IS_SNAPSHOT', [vm, op])
  if (op === 'destroy' && record.is_default_template === true) {
    throw new XapiFault('VM_CANNOT_DELETE_DEFAULT_TEMPLATE', [vm])
  }
  if (record.is_control_domain === true && op !== 'metadata_export') {
    throw new XapiFault('OPERATION_NOT_ALLOWED', [`${op} is not allowed on a control domain`])
  }
}

/** Checks `op` on `vm` and records it in `current_operations[id]`; returns the release function. */
export function acquireVmOperation(db: SimulatorDb, vm: string, op: string, id: string): () => void {
  assertVmOperation(db, vm, op, id)
  const current = db.get('VM', vm).current_operations as Readonly<Record<string, string>>
  db.update('VM', vm, { current_operations: { ...current, [id]: op } })
  return () => {
    const now = db.find('VM', vm)?.current_operations as Readonly<Record<string, string>> | undefined
    if (now === undefined || !(id in now)) return
    const { [id]: _released, ...rest } = now
    db.update('VM', vm, { current_operations: rest })
  }
}
