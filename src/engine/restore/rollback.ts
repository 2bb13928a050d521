// What an import created, so that a failure or an abort leaves nothing behind (reference §4:
// XO's `$defer.onFailure`): objects are destroyed newest first, so VBDs and VIFs go before their
// VDIs and the VM goes last. Destroying never uses the import's AbortSignal: an aborted import
// must still be cleaned up.
import { retry } from '../../shared/async.ts'
import type { Clock } from '../../shared/clock.ts'
import { errorCode } from '../../shared/errors.ts'
import { isXapiErrorCode } from '../../xapi/xapi-error.ts'
import type { XapiClient, XapiRef } from '../../xapi/types.ts'

/** A class whose objects an import creates. */
export type CreatedClass = 'VM' | 'VDI' | 'VBD' | 'VIF'

/** An object that could not be destroyed, and why. */
export interface Leftover {
  readonly cls: CreatedClass
  readonly ref: XapiRef
  readonly error: unknown
}

// A VDI whose upload was just cut may still be attached to dom0 for a moment (the handler ends
// after the client saw the error): VDI_IN_USE and OTHER_OPERATION_IN_PROGRESS pass, so they are retried.
const BUSY = new Set(['VDI_IN_USE', 'OTHER_OPERATION_IN_PROGRESS'])

/** The objects made by one import, in creation order; `destroyAll` removes them newest first. */
export class Rollback {
  readonly #created: { readonly cls: CreatedClass; readonly ref: XapiRef }[] = []
  readonly #xapi: XapiClient
  readonly #clock: Clock | undefined

  constructor(xapi: XapiClient, clock?: Clock) {
    this.#xapi = xapi
    this.#clock = clock
  }

  /** Records an object the import created (to destroy if the import fails). */
  add(cls: CreatedClass, ref: XapiRef): void {
    this.#created.push({ cls, ref })
  }

  /** The refs recorded for `cls`, in creation order. */
  refs(cls: CreatedClass): XapiRef[] {
    return this.#created.filter((c) => c.cls === cls).map((c) => c.ref)
  }

  /**
   * Destroys every recorded object, newest first (an object already gone, HANDLE_INVALID, counts
   * as destroyed), retrying busy VDIs a few times; returns what could not be destroyed.
   */
  async destroyAll(): Promise<Leftover[]> {
    const leftovers: Leftover[] = []
    for (const { cls, ref } of this.#created.splice(0).reverse()) {
      try {
        await retry(() => this.#xapi.call(`${cls}.destroy`, [ref]), {
          tries: 6,
          delayMs: 250,
          maxDelayMs: 4000,
          isRetryable: (error) => BUSY.has(errorCode(error) ?? ''),
          ...(this.#clock === undefined ? {} : { clock: this.#clock }),
        })
      } catch (error) {
        if (!isXapiErrorCode(error, 'HANDLE_INVALID')) leftovers.push({ cls, ref, error })
      }
    }
    return leftovers
  }
}

/** `; left on the pool: VDI OpaqueRef:… (VDI_IN_USE), …` for an error message, or '' when nothing was left. */
export function describeLeftovers(leftovers: readonly Leftover[]): string {
  if (leftovers.length === 0) return ''
  const items = leftovers.map(
    ({ cls, ref, error }) =>
      `${cls} ${ref} (${errorCode(error) ?? (error instanceof Error ? error.message : String(error))})`,
  )
  return `; could not remove what it created, left on the pool: ${items.join(', ')}`
}
