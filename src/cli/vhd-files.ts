// The local files of the `vhd` commands: inputs opened with their identity recorded, outputs
// refused when they are one of the inputs, and a plain "not a VHD file" instead of a footer error.
import type { BigIntStats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { posix } from 'node:path'
import { BackupError } from '../shared/errors.ts'
import { LocalFile, VhdChain, VhdError } from '../formats/vhd/index.ts'
import { pageAlignedBuffer } from '../formats/vhd/random-access-file.ts'
import type { RandomAccessFile } from '../formats/vhd/index.ts'

/** Stable codes of VhdCommandError. */
export type VhdCommandErrorCode = 'NOT_A_VHD' | 'NOT_A_FILE' | 'OUTPUT_IS_INPUT'

/** A refusal of a `vhd` command: `details.path` is the file, `details.hint` what to do. */
export class VhdCommandError extends BackupError<VhdCommandErrorCode> {
  constructor(code: VhdCommandErrorCode, message: string, path: string, hint: string) {
    super(code, message, { details: { path, hint } })
  }
}

const COOKIE = Buffer.from('conectix', 'latin1')
const FOOTER_SIZE = 512

const kindOf = (stats: BigIntStats): string =>
  stats.isDirectory()
    ? 'a directory'
    : stats.isBlockDevice() || stats.isCharacterDevice()
      ? 'a device'
      : stats.isFIFO()
        ? 'a pipe'
        : stats.isSocket()
          ? 'a socket'
          : 'not a regular file'

/** The identity of a file whatever its name: device and inode (hard links and symlinks share it). */
export interface FileIdentity {
  readonly path: string
  readonly dev: bigint
  readonly ino: bigint
}

const identityOf = (path: string, stats: BigIntStats): FileIdentity => ({
  path,
  dev: stats.dev,
  ino: stats.ino,
})

/**
 * Opens `path` for reading and records its identity in `seen`, refusing anything but a regular file
 * (a directory opens, then fails every read) with NOT_A_FILE saying it is not `expected`.
 */
export async function openInput(
  path: string,
  seen?: FileIdentity[],
  expected = 'a VHD file',
): Promise<LocalFile> {
  const file = await LocalFile.open(path)
  try {
    const stats = await file.stat()
    if (!stats.isFile())
      throw new VhdCommandError(
        'NOT_A_FILE',
        `not ${expected}: it is ${kindOf(stats)}`,
        path,
        `name ${expected}`,
      )
    seen?.push(identityOf(path, stats))
    return file
  } catch (error) {
    await file.close()
    throw error
  }
}

/**
 * Why `file` is not a VHD at all (too short, or no `conectix` cookie in the footer at the end nor
 * in its copy at 0), or undefined when it looks like one, damaged or not.
 */
export async function notAVhdReason(file: RandomAccessFile): Promise<string | undefined> {
  const size = await file.size()
  if (size < FOOTER_SIZE) return `${size} bytes, less than the ${FOOTER_SIZE} of a VHD footer`
  const cookieAt = async (offset: number) => COOKIE.equals(await file.read(offset, COOKIE.length))
  if ((await cookieAt(size - FOOTER_SIZE)) || (await cookieAt(0))) return undefined
  return 'no VHD footer cookie "conectix" at its end or start'
}

/**
 * Throws NOT_A_VHD for `path` when it is not a VHD at all. The reader's field error is left out on
 * purpose: "footer.cookie: expected conectix" tells less than "not a VHD file".
 */
export async function refuseNonVhd(path: string): Promise<void> {
  let reason: string | undefined
  const file = await openInput(path)
  try {
    reason = await notAVhdReason(file)
  } finally {
    await file.close()
  }
  if (reason !== undefined)
    throw new VhdCommandError('NOT_A_VHD', `not a VHD file: ${reason}`, path, 'name a .vhd file')
}

/**
 * Opens the chain whose top is `path`, every file as a regular file, recording each one's identity
 * in `seen`; a top file that is no VHD at all is NOT_A_VHD rather than a footer field error.
 */
export async function openChain(path: string, seen: FileIdentity[] = []): Promise<VhdChain> {
  try {
    return await VhdChain.open(path, (p) => openInput(p, seen))
  } catch (error) {
    if (error instanceof VhdError && error.issue.file === posix.normalize(path)) await refuseNonVhd(path)
    throw error
  }
}

/**
 * Throws OUTPUT_IS_INPUT when `output` (its current file, followed through symlinks) is one of
 * `inputs` by device and inode, and NOT_A_FILE when it is a directory; a missing output is fine.
 */
export async function refuseOutputOverInputs(output: string, inputs: readonly FileIdentity[]): Promise<void> {
  let stats: BigIntStats
  try {
    stats = await stat(output, { bigint: true })
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return
    throw error
  }
  if (stats.isDirectory())
    throw new VhdCommandError('NOT_A_FILE', 'the output is a directory', output, 'name a file to write')
  checkNotAnInput(output, stats, inputs)
}

/** Throws OUTPUT_IS_INPUT when the file `stats` describes (the opened `output`) is one of `inputs`. */
export function checkNotAnInput(output: string, stats: BigIntStats, inputs: readonly FileIdentity[]): void {
  const same = inputs.find((input) => input.dev === stats.dev && input.ino === stats.ino)
  if (same === undefined) return
  const what =
    same.path === output ? 'the output is an input' : `the output is the same file as the input ${same.path}`
  throw new VhdCommandError(
    'OUTPUT_IS_INPUT',
    `${what}: writing it would destroy that input`,
    output,
    'write to another file',
  )
}

/**
 * A second handle on the raw image `file` (opened from `path`) with O_DIRECT, when the file is
 * mostly holes (fewer allocated bytes than half its size): a hole read that way costs a memset
 * instead of a page-cache page (8 GiB of holes: 1.7-2 s against 3.8-4.9 s here, and no page cache
 * evicted on a disk larger than memory). Undefined when the file is dense, or O_DIRECT is refused
 * at open or at a first read; the handle is checked to be the same file.
 */
export async function openSparseScan(path: string, file: LocalFile): Promise<LocalFile | undefined> {
  const stats = await file.stat()
  if (stats.blocks * 512n * 2n >= stats.size) return undefined
  let direct: LocalFile
  try {
    direct = await LocalFile.open(path, 'read-direct')
  } catch {
    return undefined
  }
  try {
    const again = await direct.stat()
    if (again.dev !== stats.dev || again.ino !== stats.ino) throw new Error('another file')
    await direct.readInto(0, pageAlignedBuffer(4096))
    return direct
  } catch {
    await direct.close()
    return undefined
  }
}
