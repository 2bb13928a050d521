import { XapiFault } from '../xapi-fault.ts'

/** CBT granularity: one bit per 64 KiB of the disk (xapi.md §6.1). */
export const CBT_BLOCK_BYTES = 64 * 1024

interface CbtLog {
  readonly changed: Set<number>
  next: CbtLog | undefined
}

function unrelated(): XapiFault {
  // SM's errno 460 (xapi.md §6.1; message text approximate there too).
  return new XapiFault('SR_BACKEND_FAILURE_460', [
    '',
    'Failed to calculate changed blocks for given VDIs. [opterr=Source and target VDI are unrelated]',
    '',
  ])
}

/**
 * Changed-block tracking as SM keeps it (xapi.md §6.1): one log per CBT-enabled VDI recording the
 * 64 KiB blocks written while it was live; `VDI.snapshot` hands the live log to the snapshot and
 * chains a fresh one after it for the live VDI. Logs outlive `VDI.destroy` of their VDI only as
 * links of the chain, and survive `data_destroy` (the VDI keeps its log).
 */
export class CbtLogs {
  private readonly logs = new Map<string, CbtLog>()

  /** True when `vdi` has a CBT log. */
  has(vdi: string): boolean {
    return this.logs.has(vdi)
  }

  /** Starts an empty log for `vdi` unless it has one (enable_cbt is idempotent). */
  enable(vdi: string): void {
    if (!this.logs.has(vdi)) this.logs.set(vdi, { changed: new Set(), next: undefined })
  }

  /** Forgets `vdi`'s log (disable_cbt, VDI.destroy); logs chained through it still link. */
  forget(vdi: string): void {
    this.logs.delete(vdi)
  }

  /** Records a guest or import write of `lengthBytes` at `offsetBytes` in `vdi`'s live log, if any. */
  recordWrite(vdi: string, offsetBytes: number, lengthBytes: number): void {
    const log = this.logs.get(vdi)
    if (log === undefined || lengthBytes <= 0) return
    const last = Math.floor((offsetBytes + lengthBytes - 1) / CBT_BLOCK_BYTES)
    for (let block = Math.floor(offsetBytes / CBT_BLOCK_BYTES); block <= last; block++) log.changed.add(block)
  }

  /** `VDI.snapshot` of a CBT-enabled `vdi`: the snapshot takes the live log, the VDI continues in a new one. */
  snapshot(vdi: string, snapshot: string): void {
    const live = this.logs.get(vdi)
    if (live === undefined) return
    const fresh: CbtLog = { changed: new Set(), next: undefined }
    live.next = fresh
    this.logs.set(snapshot, live)
    this.logs.set(vdi, fresh)
  }

  /**
   * `VDI.list_changed_blocks(from, to)`: the OR of the logs after `from`'s up to and including
   * `to`'s, as a base64 bitmap of `sizeBytes / 64 KiB` bits, MSB first (xapi.md §6.1).
   * Same VDI, unrelated VDIs or CBT off → SR_BACKEND_FAILURE_460.
   */
  listChanged(from: string, to: string, sizeBytes: number): string {
    const start = this.logs.get(from)
    const end = this.logs.get(to)
    if (start === undefined || end === undefined || start === end) throw unrelated()
    const bitmap = Buffer.alloc(Math.ceil(Math.ceil(sizeBytes / CBT_BLOCK_BYTES) / 8))
    for (let log = start.next; ; log = log.next) {
      if (log === undefined) throw unrelated()
      for (const block of log.changed) {
        const byte = block >> 3
        if (byte < bitmap.length) bitmap[byte] = (bitmap[byte] ?? 0) | (0x80 >> (block & 7))
      }
      if (log === end) break
    }
    return bitmap.toString('base64')
  }
}
