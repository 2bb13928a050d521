import { open, readdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join, relative, resolve } from 'node:path'
import type { Command } from 'commander'
import { errorCode } from '../shared/errors.ts'
import { systemClock } from '../shared/clock.ts'
import { newUuid } from '../shared/ids.ts'
import {
  LocalFile,
  VhdError,
  VhdFile,
  checkVhd,
  formatIssue,
  localMergeStore,
  mergeStatePath,
  mergeVhdChain,
  readMergeState,
  resolveParentPath,
  resumeVhdMerge,
} from '../formats/vhd/index.ts'
import type { MergeResult } from '../formats/vhd/index.ts'
import { convertRawToVhd, writeChainToRaw } from '../formats/vhd/conversions.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'
import type { FileIdentity } from './vhd-files.ts'
import {
  checkNotAnInput,
  notAVhdReason,
  openChain,
  openInput,
  openSparseScan,
  refuseNonVhd,
  refuseOutputOverInputs,
} from './vhd-files.ts'

const DISK_TYPES: Record<number, string> = { 2: 'fixed', 3: 'dynamic', 4: 'differencing' }

async function describeVhd(path: string): Promise<Record<string, string | number | null>> {
  const file = await openInput(path)
  const disk = await VhdFile.open(file).catch(async (error: unknown) => {
    await file.close()
    if (error instanceof VhdError) await refuseNonVhd(path)
    throw error
  })
  try {
    const { footer, header } = disk
    return {
      path,
      diskType: DISK_TYPES[footer.diskType] ?? String(footer.diskType),
      virtualSize: footer.currentSize,
      uuid: footer.uniqueId,
      creator: footer.creatorApplication.replace(/\0/g, ' ').trimEnd(),
      timestamp: new Date(Date.UTC(2000, 0, 1) + footer.timestamp * 1000).toISOString(),
      blockSize: disk.blockSize,
      maxTableEntries: header?.maxTableEntries ?? null,
      allocatedBlocks: disk.blockIndexes().length,
      fileSize: await disk.file.size(),
      parentUuid: disk.isDifferencing ? (header?.parentUniqueId ?? null) : null,
      parentPath: disk.isDifferencing ? (header?.parentUnicodeName ?? null) : null,
    }
  } finally {
    await disk.close()
  }
}

/** The issue lines of one file for `vhd check`; a file that cannot be checked is one line, not a crash. */
async function checkLines(path: string): Promise<string[]> {
  try {
    const file = await openInput(path)
    const reason = await notAVhdReason(file).finally(() => file.close())
    if (reason !== undefined) return [`error [NOT_A_VHD] ${path}: not a VHD file: ${reason}`]
    const issues = await checkVhd(path, (p) => openInput(p), { chain: true })
    return issues.map((found) => `error [${found.code}] ${formatIssue(found)}`)
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return [`error [${errorCode(error) ?? 'ERROR'}] ${path}: ${message}`]
  }
}

/** Makes a rename or a new name in `dir` durable (the file's own data is synced by its writer). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Opens `path` to write without truncating it: created when missing, otherwise refused when it is
 * one of `inputs` (checked on the opened file, so a name swapped meanwhile cannot slip through).
 */
async function openOutput(
  path: string,
  inputs: readonly FileIdentity[],
): Promise<{ out: LocalFile; created: boolean }> {
  await refuseOutputOverInputs(path, inputs)
  let out: LocalFile
  let created = true
  try {
    out = await LocalFile.open(path, 'create-new')
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') throw error
    out = await LocalFile.open(path, 'write')
    created = false
  }
  try {
    checkNotAnInput(path, await out.stat(), inputs)
  } catch (error) {
    await out.close()
    throw error
  }
  return { out, created }
}

async function writeRaw(vhdPath: string, outPath: string): Promise<number> {
  const inputs: FileIdentity[] = []
  const chain = await openChain(vhdPath, inputs)
  try {
    const { out, created } = await openOutput(outPath, inputs)
    let written = false
    try {
      const stats = await out.stat()
      // A regular file gets holes for zeros; a device gets every byte, and a character device
      // (/dev/null) has nothing to make durable (fdatasync fails there with EINVAL).
      const size = await writeChainToRaw(chain, out, {
        dense: !stats.isFile(),
        sync: !stats.isCharacterDevice(),
      })
      written = true
      return size
    } finally {
      await out.close()
      if (!written && created) await rm(outPath, { force: true })
      if (written && created) await syncDirectory(dirname(resolve(outPath)))
    }
  } finally {
    await chain.close()
  }
}

async function writeFromRaw(
  rawPath: string,
  outPath: string,
  parentPath: string | undefined,
): Promise<number> {
  const inputs: FileIdentity[] = []
  const raw = await openInput(rawPath, inputs, 'a raw image file')
  try {
    const parent = parentPath === undefined ? undefined : await openChain(parentPath, inputs)
    try {
      await refuseOutputOverInputs(outPath, inputs)
      const parentRef =
        parent === undefined || parentPath === undefined
          ? {}
          : {
              parent: {
                chain: parent,
                ref: {
                  uniqueId: parent.top.uniqueId,
                  relativePath: relative(dirname(resolve(outPath)), resolve(parentPath)),
                },
              },
            }
      // A new temp name (created exclusively, so no existing file is ever truncated) then a
      // rename: a reader never sees a half-written VHD (architecture.md §6.1).
      const temp = `${outPath}.${newUuid().slice(0, 8)}.tmp`
      const out = await LocalFile.open(temp, 'create-new')
      let renamed = false
      try {
        const options = { uniqueId: newUuid(), timestampMs: systemClock.now(), ...parentRef }
        const scan = await openSparseScan(rawPath, raw)
        const result = await convertRawToVhd(scan ?? raw, out, options).finally(async () => {
          await out.close()
          await scan?.close()
        })
        await rename(temp, outPath)
        renamed = true
        await syncDirectory(dirname(resolve(outPath)))
        return result.blockIndexes.length
      } finally {
        if (!renamed) await rm(temp, { force: true })
      }
    } finally {
      await parent?.close()
    }
  } finally {
    await raw.close()
  }
}

/** Finds an interrupted merge whose chain ends at `childPath` (its state file sits beside the ancestor). */
async function findInterruptedMerge(childPath: string): Promise<string | undefined> {
  const dir = dirname(childPath)
  for (const name of await readdir(dir)) {
    const match = /^\.(.+)\.merge\.json$/.exec(name)
    if (match?.[1] === undefined) continue
    const parentPath = join(dir, match[1])
    const state = await readMergeState(localMergeStore, mergeStatePath(parentPath))
    if (state !== undefined && resolve(dir, state.chain.at(-1) ?? '') === resolve(childPath))
      return parentPath
  }
  return undefined
}

/** Runs or resumes the merge; `ancestor` is the file merged into (renamed to `result.mergedInto`). */
async function runMerge(
  childPath: string,
  into: string | undefined,
): Promise<{ result: MergeResult; ancestor: string }> {
  const interrupted = into ?? (await findInterruptedMerge(childPath))
  if (interrupted !== undefined) {
    const resumed = await resumeVhdMerge(localMergeStore, interrupted)
    if (resumed !== undefined) return { result: resumed, ancestor: interrupted }
  }
  const chain = await openChain(childPath)
  await chain.close()
  if (chain.disks.length < 2)
    throw new CliExit(1, `${childPath}: not a differencing disk, nothing to merge into`)
  const ancestor =
    into === undefined
      ? resolveParentPath(childPath, chain.top.header?.parentUnicodeName ?? '')
      : resolve(into)
  const paths = chain.paths.map((p) => resolve(p))
  const depth = paths.indexOf(resolve(ancestor))
  if (depth < 1)
    throw new CliExit(1, `${ancestor}: not an ancestor of ${childPath} (chain: ${chain.paths.join(' -> ')})`)
  return { result: await mergeVhdChain(localMergeStore, paths.slice(0, depth + 1).reverse()), ancestor }
}

function registerInspection(vhd: Command, io: CliIo): void {
  vhd
    .command('info')
    .description('print the footer and header facts of a VHD')
    .argument('<file>')
    .option('--json', 'print JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      const info = await describeVhd(file)
      const lines = Object.entries(info).map(([key, value]) => `${key.padEnd(16)} ${String(value)}\n`)
      io.out(options.json === true ? `${JSON.stringify(info, null, 2)}\n` : lines.join(''))
    })
  vhd
    .command('check')
    .description('check VHD files and their parent links; exit 1 when any is damaged')
    .argument('<files...>')
    .action(async (files: string[]) => {
      let failed = 0
      for (const file of files) {
        const lines = await checkLines(file)
        if (lines.length === 0) io.out(`ok ${file}\n`)
        else failed++
        for (const line of lines) io.out(`${line}\n`)
      }
      if (failed > 0) throw new CliExit(1, `${failed} of ${files.length} file(s) damaged`)
    })
}

function registerConversions(vhd: Command, io: CliIo): void {
  vhd
    .command('to-raw')
    .description('write the content of a VHD (following its chain) as a raw image')
    .argument('<vhd>')
    .argument('<out>')
    .action(async (file: string, out: string) => {
      io.out(`wrote ${await writeRaw(file, out)} bytes to ${out}\n`)
    })
  vhd
    .command('from-raw')
    .description('write a raw image as a dynamic VHD, or with --parent as a delta over that VHD')
    .argument('<raw>')
    .argument('<out>')
    .option('--parent <vhd>', 'store only the blocks that differ from this VHD (chain)')
    .action(async (raw: string, out: string, options: { parent?: string }) => {
      const blocks = await writeFromRaw(raw, out, options.parent)
      const over = options.parent === undefined ? '' : ` over ${options.parent}`
      io.out(`wrote ${basename(out)}: ${blocks} block(s)${over}\n`)
    })
}

/** Registers `vhd info|check|to-raw|from-raw|merge` (issue 3) on `program`. */
export function registerVhdCommands(program: Command, io: CliIo): void {
  const vhd = program.command('vhd').description('inspect, check, convert and merge VHD files')
  registerInspection(vhd, io)
  registerConversions(vhd, io)
  vhd
    .command('merge')
    .description('merge a delta (and the deltas between) into its parent or --into ancestor; resumes')
    .argument('<child>')
    .option('--into <ancestor>', 'the ancestor to merge into (default: the parent)')
    .action(async (child: string, options: { into?: string }) => {
      const { result, ancestor } = await runMerge(child, options.into)
      const resumed = result.resumed ? ' (resumed)' : ''
      const removed = result.removed.length === 0 ? 'no other file' : result.removed.join(', ')
      io.out(
        `merged ${result.mergedBlocks} block(s) (${result.mergedBytes} bytes)${resumed}\n` +
          `${result.mergedInto} now holds the merged disk (${ancestor} was renamed to it)\n` +
          `removed: ${removed}\n`,
      )
    })
}
