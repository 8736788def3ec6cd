/**
 * Bytes of the WebSocket frames the load generator (load.ts) writes and walks in place: a masked
 * frame built by hand (RFC 6455 §5.2), and the few byte-level readings its receive path makes.
 */

export const HASH = 0x23;
export const COLON = 0x3a;
export const ZERO = 0x30;

/** A masked client frame of up to 125 bytes of payload (the generator only sends short ones). */
export function maskedFrame(opcode: number, payload: Uint8Array): Uint8Array {
  if (payload.length > 125) throw new Error("the load generator only sends short frames");
  const frame = new Uint8Array(6 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | payload.length;
  frame.set(payload, 6);
  return frame;
}

/** The number written in `count` ASCII digits from `from`, or -1 if they are not all digits. */
export function digits(bytes: Uint8Array, from: number, count: number): number {
  let value = 0;
  for (let i = from; i < from + count; i++) {
    const digit = bytes[i]! - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Where an HTTP head ends (CR LF CR LF), or -1. */
export function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}
