// Migration is blocked on the VM for the length of its backup (xen-orchestra-backups.md §3.1 step
// 2): a VM moving to another pool mid-export would lose its snapshot chain and break the export.
import { errorCode } from '../../shared/errors.ts'
import type { VmRecord, XapiClient, XapiRef } from '../../xapi/types.ts'

/** The VM operations a backup blocks (xapi.md §2.1: `blocked_operations` keys). */
export const MIGRATION_OPERATIONS = ['pool_migrate', 'migrate_send'] as const

/** The reason XAPI answers (`OPERATION_BLOCKED [vm, reason]`) to a migration during a backup. */
export const MIGRATION_BLOCKED_REASON = 'VM migration is blocked during backup'

/** Undoes a block: removes the entries it added, leaves the ones that were there before. */
export type RestoreMigration = () => Promise<void>

/** True when the VM is being migrated right now (one of its current operations is a migration). */
export function isMigrating(vm: VmRecord): boolean {
  const operations: readonly string[] = MIGRATION_OPERATIONS
  return Object.values(vm.current_operations).some((op) => operations.includes(op))
}

/**
 * Blocks `pool_migrate` and `migrate_send` on `vmRef` and returns how to restore them. An entry
 * that already existed (an admin's own block) is left as it was and is not removed on restore;
 * if blocking fails half-way, what was added is removed before the error is rethrown. An entry
 * holding MIGRATION_BLOCKED_REASON is a backup's: one left by a run that was killed before its
 * restore (SIGKILL, a crash) would pin the VM for good, so this run takes it over and removes it
 * on restore. The cost, accepted: a backup of another job running on the same VM at that moment
 * loses its block when this run ends first (it is then as exposed as an unblocked run).
 */
export async function blockMigration(
  xapi: XapiClient,
  vmRef: XapiRef,
  vm: VmRecord,
): Promise<RestoreMigration> {
  const added: string[] = []
  const restore: RestoreMigration = async () => {
    // Every entry is tried even when one fails: a VM must not stay pinned because of another key.
    const failures: unknown[] = []
    for (const operation of added.splice(0).reverse())
      await xapi
        .call('VM.remove_from_blocked_operations', [vmRef, operation])
        .catch((e: unknown) => failures.push(e))
    // XO's work-around: XAPI recomputes allowed_operations lazily after blocked_operations changes.
    await xapi.call('VM.update_allowed_operations', [vmRef]).catch((e: unknown) => failures.push(e))
    if (failures.length > 0) throw failures[0]
  }
  try {
    for (const operation of MIGRATION_OPERATIONS) {
      if (vm.blocked_operations[operation] === MIGRATION_BLOCKED_REASON) {
        added.push(operation)
        continue
      }
      if (Object.hasOwn(vm.blocked_operations, operation)) continue
      try {
        await xapi.call('VM.add_to_blocked_operations', [vmRef, operation, MIGRATION_BLOCKED_REASON])
      } catch (error) {
        // Someone blocked it since the record was read: theirs, so not ours to remove.
        if (errorCode(error) === 'MAP_DUPLICATE_KEY') continue
        throw error
      }
      added.push(operation)
    }
    await xapi.call('VM.update_allowed_operations', [vmRef])
  } catch (error) {
    await restore().catch(() => undefined)
    throw error
  }
  return restore
}
