import { VhdChain } from './vhd-chain.ts'
import type { VhdOpener } from './vhd-chain.ts'
import type { VhdIssue } from './vhd-error.ts'
import { VhdError, issue } from './vhd-error.ts'
import type { InspectOptions } from './vhd-inspect.ts'
import { inspectVhd } from './vhd-inspect.ts'

/** Options of checkVhd. */
export interface CheckOptions extends InspectOptions {
  /** Also open the parents (by relative path, checked by UUID); needs `opener`. */
  readonly chain?: boolean
}

/**
 * Checks the VHD at `path` and returns every structural issue found (empty when sound): footers,
 * header, BAT extents and overlaps, locators, and with `chain` the parent links. Reads are bounded
 * by file sizes, so damaged input gives issues, never a hang or a crash.
 */
export async function checkVhd(
  path: string,
  opener: VhdOpener,
  options: CheckOptions = {},
): Promise<VhdIssue[]> {
  let file
  try {
    file = await opener(path)
  } catch (error) {
    return [issue('VHD_INVALID', path, 0, 'file', 'a readable file', (error as Error).message)]
  }
  try {
    const { issues, structure } = await inspectVhd(file, options)
    if (issues.length > 0 || options.chain !== true || structure?.footer.diskType !== 4) return issues
  } finally {
    await file.close?.()
  }
  try {
    const chain = await VhdChain.open(path, opener, { inspect: options })
    await chain.close()
    return []
  } catch (error) {
    if (error instanceof VhdError) return [error.issue]
    throw error
  }
}
