// VHD layout constants (Microsoft VHD spec; ../shared/reference/xapi.md §5.1). All integers are big-endian.

/** Bytes per sector: every VHD offset in the BAT and every bitmap bit counts these. */
export const SECTOR_SIZE = 512
/** Size of the hard disk footer (at EOF, and copied at offset 0 for dynamic/differencing disks). */
export const FOOTER_SIZE = 512
/** Size of the dynamic disk header. */
export const HEADER_SIZE = 1024
/** Block size every writer we know uses (XAPI, XO, qemu): 2 MiB. */
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024
/** BAT value of an unallocated block. */
export const UNUSED_BAT_ENTRY = 0xffffffff
/** The footer `dataOffset` of a fixed disk, and the header `dataOffset` (0xFFFFFFFFFFFFFFFF). */
export const UNUSED_U64 = 0xffffffffffffffffn
/** Disk types of the footer `diskType` field. */
export const DiskType = { fixed: 2, dynamic: 3, differencing: 4 } as const
/** A footer disk type. */
export type DiskTypeValue = (typeof DiskType)[keyof typeof DiskType]
/** VHD timestamps count seconds from 2000-01-01T00:00:00Z (spec "Time Stamp"). */
export const VHD_EPOCH_MS = Date.UTC(2000, 0, 1)
/** Largest virtual size we write: XAPI refuses VHD above 2040 GiB, qemu too (tooling.md §1.2.4). */
export const MAX_VIRTUAL_SIZE = 2040 * 1024 ** 3
/** Largest virtual size we read: 2 TiB covers XO's `2 TiB - 8 KiB` limit (xapi.md §5.1). */
export const MAX_READABLE_SIZE = 2 * 1024 ** 4
/** `tap\0` (blktap): qemu takes the virtual size from `currentSize` for it, not from CHS (tooling.md §1.2.3). */
export const CREATOR_APPLICATION = 'tap\0'
/** File format and header version 1.0. */
export const FORMAT_VERSION = 0x00010000
/** Upper bound on chain length, so a parent loop cannot make a reader spin. */
export const MAX_CHAIN_LENGTH = 1024
/**
 * Most BAT entries a reader accepts (16 MiB of BAT): a 2 TiB disk needs 2^20 with 2 MiB blocks and
 * 2^22 with 512 KiB ones; more (only tiny blocks on a huge disk) is refused rather than allocated.
 */
export const MAX_BAT_ENTRIES = 2 ** 22
/** Bytes of BAT read at once: a large BAT is decoded piece by piece, never held twice whole. */
export const BAT_READ_CHUNK = 1024 * 1024
