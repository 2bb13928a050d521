import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'

const available = new Map<string, boolean>()

/** An external program used as a test oracle: how to probe it and how to install it. */
export interface OracleTool {
  readonly name: string
  readonly probe: readonly [string, ...string[]]
  readonly install: string
}

/** GNU tar, the XVA oracle (tooling.md §1.4). */
export const GNU_TAR: OracleTool = {
  name: 'GNU tar',
  probe: ['tar', '--version'],
  install: 'apt-get install tar',
}

/** coreutils' sha1sum, an independent SHA-1 for XVA `.checksum` entries. */
export const SHA1SUM: OracleTool = {
  name: 'sha1sum',
  probe: ['sha1sum', '--version'],
  install: 'apt-get install coreutils',
}

/** coreutils' md5sum, an independent MD5 for the `$1$$<md5>` `.xva.checksum` files XO writes. */
export const MD5SUM: OracleTool = {
  name: 'md5sum',
  probe: ['md5sum', '--version'],
  install: 'apt-get install coreutils',
}

/** The zstd command-line tool, an independent zstd codec for XVA compression. */
export const ZSTD: OracleTool = {
  name: 'zstd',
  probe: ['zstd', '--version'],
  install: 'apt-get install zstd',
}

/**
 * True when `tool` runs here. When it does not: under `CI=true` the test fails (CI installs every
 * oracle); locally the test is skipped with the install hint.
 */
export function requireTool(t: TestContext, tool: OracleTool): boolean {
  let ok = available.get(tool.name)
  if (ok === undefined) {
    const [command, ...args] = tool.probe
    ok = spawnSync(command, args, { encoding: 'utf8' }).status === 0
    available.set(tool.name, ok)
  }
  if (ok) return true
  const message = `${tool.name} missing: ${tool.install}`
  if (process.env.CI === 'true') assert.fail(`oracle required in CI: ${message}`)
  t.skip(message)
  return false
}
