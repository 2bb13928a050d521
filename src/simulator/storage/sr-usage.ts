import { VDI_BLOCK_BYTES } from './block-store.ts'

/**
 * The 2 MiB slots each SR holds, counting how many of its VDIs hold each: a slot shared by a VDI
 * and its snapshots or clones on one SR counts once (like a VHD chain, whose parent holds the
 * shared data once), the same slot on two SRs counts on both.
 */
export class SrUsage {
  private readonly holders = new Map<string, Map<number, number>>()

  /** A VDI of `sr` now holds `slot`. */
  add(sr: string, slot: number): void {
    let slots = this.holders.get(sr)
    if (slots === undefined) {
      slots = new Map()
      this.holders.set(sr, slots)
    }
    slots.set(slot, (slots.get(slot) ?? 0) + 1)
  }

  /** A VDI of `sr` no longer holds `slot`. */
  remove(sr: string, slot: number): void {
    const slots = this.holders.get(sr)
    const count = slots?.get(slot)
    if (slots === undefined || count === undefined) return
    if (count > 1) slots.set(slot, count - 1)
    else slots.delete(slot)
    if (slots.size === 0) this.holders.delete(sr)
  }

  /** How many VDIs of `sr` hold `slot` (0 when none). */
  holdersOf(sr: string, slot: number): number {
    return this.holders.get(sr)?.get(slot) ?? 0
  }

  /** Bytes `sr` holds: its distinct slots × 2 MiB (the simulator's `SR.physical_utilisation`). */
  bytes(sr: string): number {
    return (this.holders.get(sr)?.size ?? 0) * VDI_BLOCK_BYTES
  }
}
