const ZEROS = Buffer.alloc(2 * 1024 * 1024)

/** True when every byte of `data` (any offset, at most 2 MiB) is zero; memcmp-fast. */
export function isZeroBytes(data: Uint8Array): boolean {
  // Our own check: the VHD library's isAllZero needs 8-byte aligned views, tar entries are not.
  const view = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  for (let offset = 0; offset < view.length; offset += ZEROS.length) {
    const piece = view.subarray(offset, offset + ZEROS.length)
    if (!piece.equals(ZEROS.subarray(0, piece.length))) return false
  }
  return true
}
