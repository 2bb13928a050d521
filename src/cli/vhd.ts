import { readdir, rename, rm, truncate } from 'node:fs/promises'
import { basename, dirname, join, relative, resolve } from 'node:path'
import type { Command } from 'commander'
import { systemClock } from '../shared/clock.ts'
import { newUuid } from '../shared/ids.ts'
import {
  LocalFile,
  VhdChain,
  VhdFile,
  chainToRaw,
  checkVhd,
  formatIssue,
  isAllZero,
  localMergeStore,
  mergeStatePath,
  mergeVhdChain,
  rawBlockSource,
  readMergeState,
  resolveParentPath,
  resumeVhdMerge,
  planVhdStream,
  writeVhdStream,
} from '../formats/vhd/index.ts'
import type { MergeResult } from '../formats/vhd/index.ts'
import type { CliIo } from './io.ts'
import { CliExit } from './io.ts'

const DISK_TYPES: Record<number, string> = { 2: 'fixed', 3: 'dynamic', 4: 'differencing' }
const openLocal = (path: string) => LocalFile.open(path)

async function describeVhd(path: string): Promise<Record<string, string | number | null>> {
  const disk = await VhdFile.open(await LocalFile.open(path))
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

async function writeRaw(vhdPath: string, outPath: string): Promise<number> {
  const chain = await VhdChain.open(vhdPath, openLocal)
  const out = await LocalFile.open(outPath, 'create')
  try {
    let offset = 0
    for await (const chunk of chainToRaw(chain, { reuseBuffer: true })) {
      // Holes stay holes: an unallocated block is not written, the final truncate sets the size.
      if (!isAllZero(chunk)) await out.write(offset, chunk)
      offset += chunk.length
    }
    return offset
  } finally {
    await out.close()
    await chain.close()
    await truncate(outPath, chain.virtualSize)
  }
}

async function writeFromRaw(
  rawPath: string,
  outPath: string,
  parentPath: string | undefined,
): Promise<number> {
  const raw = await LocalFile.open(rawPath)
  const parent = parentPath === undefined ? undefined : await VhdChain.open(parentPath, openLocal)
  const temp = `${outPath}.tmp`
  try {
    const source = await rawBlockSource(raw, parent === undefined ? {} : { parent })
    const parentRef =
      parent === undefined || parentPath === undefined
        ? {}
        : {
            parent: {
              uniqueId: parent.top.uniqueId,
              relativePath: relative(dirname(resolve(outPath)), resolve(parentPath)),
            },
          }
    const stream = planVhdStream(source, {
      uniqueId: newUuid(),
      timestampMs: systemClock.now(),
      ...parentRef,
    })
    const out = await LocalFile.open(temp, 'create')
    try {
      await writeVhdStream(stream, out)
      await out.sync()
    } finally {
      await out.close()
    }
    // Temp name + rename: a reader never sees a half-written VHD (architecture.md §6.1).
    await rename(temp, outPath)
    return source.blockIndexes.length
  } finally {
    await rm(temp, { force: true })
    await raw.close()
    await parent?.close()
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

async function runMerge(childPath: string, into: string | undefined): Promise<MergeResult> {
  const interrupted = into ?? (await findInterruptedMerge(childPath))
  if (interrupted !== undefined) {
    const resumed = await resumeVhdMerge(localMergeStore, interrupted)
    if (resumed !== undefined) return resumed
  }
  const chain = await VhdChain.open(childPath, openLocal)
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
  return mergeVhdChain(localMergeStore, paths.slice(0, depth + 1).reverse())
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
        const issues = await checkVhd(file, openLocal, { chain: true })
        if (issues.length === 0) io.out(`ok ${file}\n`)
        else failed++
        for (const found of issues) io.out(`error [${found.code}] ${formatIssue(found)}\n`)
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
      const result = await runMerge(child, options.into)
      const resumed = result.resumed ? ' (resumed)' : ''
      io.out(
        `merged ${result.mergedBlocks} block(s) (${result.mergedBytes} bytes) into ${result.path}${resumed}\n`,
      )
    })
}
