import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import type { TestContext } from 'node:test'

/** The external tools our VHD tests use as oracles (tooling.md §1). */
export type Oracle = 'qemu-img' | 'pyvhdi'

const PYTHON = '/usr/bin/python3'
const available = new Map<Oracle, boolean>()

function probe(oracle: Oracle): boolean {
  const cached = available.get(oracle)
  if (cached !== undefined) return cached
  const result =
    oracle === 'qemu-img'
      ? spawnSync('qemu-img', ['--version'], { encoding: 'utf8' })
      : spawnSync(PYTHON, ['-c', 'import pyvhdi'], { encoding: 'utf8' })
  const ok = result.status === 0
  available.set(oracle, ok)
  return ok
}

/**
 * True when `oracle` can run. When it cannot: in CI (`CI=true`) the test fails; locally it is
 * skipped with a message saying what to install.
 */
export function requireOracle(t: TestContext, oracle: Oracle): boolean {
  if (probe(oracle)) return true
  const message = `${oracle} missing: apt-get install qemu-utils python3-libvhdi (Debian /usr/bin/python3)`
  if (process.env.CI === 'true') assert.fail(`oracle required in CI: ${message}`)
  t.skip(message)
  return false
}

/** Runs a tool and returns its status and output (never throws on a non-zero exit). */
export function runTool(
  command: string,
  args: readonly string[],
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 26 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

const PYVHDI_CAT = `
import sys, pyvhdi
paths = sys.argv[2:]
files = []
for p in paths:
    f = pyvhdi.file()
    f.open(p)
    files.append(f)
for child, parent in zip(files, files[1:]):
    child.set_parent(parent)
top = files[0]
size = top.get_media_size()
out = open(sys.argv[1], 'wb')
offset = 0
while offset < size:
    n = min(1 << 22, size - offset)
    out.write(top.read_buffer_at_offset(n, offset))
    offset += n
out.close()
print(size)
`

/** Reads a chain (child first) through libvhdi with set_parent into `outPath`; returns the media size. */
export function readChainWithPyvhdi(paths: readonly string[], outPath: string): number {
  const result = spawnSync(PYTHON, ['-c', PYVHDI_CAT, outPath, ...paths], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`pyvhdi failed (${result.status}): ${result.stderr}`)
  return Number(result.stdout.trim())
}
