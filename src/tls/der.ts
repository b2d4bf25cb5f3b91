// A small DER writer (ITU-T X.690, distinguished encoding rules): the ASN.1 types an X.509 v3
// certificate is made of, and no more. Every function returns the complete encoding of one value
// (tag, length, contents) as a Buffer, so a structure is written the way it is declared:
// sequence(integer(2n), oid('1.2.3'), ...). Also readTlv, the one reader certs.ts needs: to find
// the public key's bits inside the SubjectPublicKeyInfo that node:crypto exports.

/** Universal tag numbers (X.680 8.4), with the constructed bit set on SEQUENCE and SET. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The length octets: short form below 128, otherwise long form with the fewest octets (X.690 10.1). */
export function encodeLength(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`a DER length must be a non-negative integer, not ${n}`);
  if (n < 0x80) return Buffer.from([n]);
  const octets: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) octets.unshift(v % 256);
  return Buffer.from([0x80 | octets.length, ...octets]);
}

/** One value: its tag octet (low-tag-number form, which is all a certificate needs), length, contents. */
export function tlv(tag: number, contents: Uint8Array): Buffer {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) throw new RangeError(`tag ${tag} is not a one-octet tag`);
  return Buffer.concat([Buffer.from([tag]), encodeLength(contents.length), contents]);
}

export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(TAG.SEQUENCE, Buffer.concat(items));
}

/** SET OF: DER orders the encoded elements as octet strings, shorter ones padded with zeros (X.690 11.6). */
export function setOf(...items: Uint8Array[]): Buffer {
  const sorted = [...items].map((i) => Buffer.from(i)).sort(compareDerElements);
  return tlv(TAG.SET, Buffer.concat(sorted));
}

function compareDerElements(a: Buffer, b: Buffer): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function boolean(value: boolean): Buffer {
  // DER fixes TRUE as 0xff (X.690 11.1).
  return tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return tlv(TAG.NULL, Buffer.alloc(0));
}

/**
 * INTEGER in two's complement with the fewest octets (X.690 8.3.2): a bigint, or the unsigned
 * big-endian bytes of a non-negative number (a serial), which gain a leading zero octet when
 * their top bit is set so that they stay positive.
 */
export function integer(value: bigint | Uint8Array): Buffer {
  if (typeof value !== 'bigint') {
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start++;
    const bytes = value.length === 0 ? Buffer.from([0]) : Buffer.from(value.subarray(start));
    return tlv(TAG.INTEGER, (bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
  }
  const octets: number[] = [];
  let v = value;
  // Emit low octets until what is left is the sign extension of the last one emitted.
  for (;;) {
    const low = Number(BigInt.asUintN(8, v));
    octets.unshift(low);
    v >>= 8n;
    if ((v === 0n && (low & 0x80) === 0) || (v === -1n && (low & 0x80) !== 0)) break;
  }
  return tlv(TAG.INTEGER, Buffer.from(octets));
}

/** OBJECT IDENTIFIER from dotted form: the first two arcs as 40·a + b, every arc base 128 (X.690 8.19). */
export function oid(dotted: string): Buffer {
  if (!/^[0-2]\.\d+(\.\d+)*$/.test(dotted)) throw new RangeError(`"${dotted}" is not a dotted object identifier`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const [first = 0n, second = 0n, ...rest] = arcs;
  if (first < 2n && second > 39n) throw new RangeError(`"${dotted}": the second arc under ${first} is at most 39`);
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const groups: number[] = [];
    for (let v = arc; ; v >>= 7n) {
      groups.unshift(Number(v & 0x7fn) | (groups.length > 0 ? 0x80 : 0));
      if (v < 0x80n) break;
    }
    out.push(...groups);
  }
  return tlv(TAG.OID, Buffer.from(out));
}

/** BIT STRING of whole octets (a key, a signature): no unused bits. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`${unusedBits} unused bits in a BIT STRING of ${bytes.length} octets`);
  }
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A named-bit BIT STRING (keyUsage): bit 0 is the top bit of the first octet. DER drops trailing
 * zero bits, so the length and the unused-bit count follow from the highest bit set (X.690 11.2.2).
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const top = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(top / 8) + 1);
  for (const b of bits) {
    if (!Number.isInteger(b) || b < 0) throw new RangeError(`bit ${b} is not a bit number`);
    bytes[b >> 3] = (bytes[b >> 3] ?? 0) | (0x80 >> (b & 7));
  }
  return bitString(bytes, 7 - (top & 7));
}

export function octetString(bytes: Uint8Array): Buffer {
  return tlv(TAG.OCTET_STRING, bytes);
}

/** The characters PrintableString allows (X.680 41.4). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function isPrintable(s: string): boolean {
  return PRINTABLE.test(s);
}

export function printableString(s: string): Buffer {
  if (!isPrintable(s)) throw new RangeError(`"${s}" has characters PrintableString does not allow`);
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1'));
}

export function utf8String(s: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
}

export function ia5String(s: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(s)) throw new RangeError(`"${s}" is not ASCII (IA5String)`);
  return tlv(TAG.IA5_STRING, Buffer.from(s, 'latin1'));
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Whole seconds in UTC, "Z" and no fraction: the form DER and RFC 5280 4.1.2.5 require. */
function timeDigits(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RangeError('an invalid Date');
  return `${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}Z`;
}

/** UTCTime YYMMDDHHMMSSZ, for 1950 to 2049 only (the two-digit year's window). */
export function utcTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 2049) throw new RangeError(`UTCTime holds 1950 to 2049, not ${y}`);
  return tlv(TAG.UTC_TIME, Buffer.from(`${pad(y % 100, 2)}${timeDigits(d)}`, 'latin1'));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ. */
export function generalizedTime(d: Date): Buffer {
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new RangeError(`GeneralizedTime holds years 0 to 9999, not ${y}`);
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${pad(y, 4)}${timeDigits(d)}`, 'latin1'));
}

/** A certificate's Time (RFC 5280 4.1.2.5): UTCTime through 2049, GeneralizedTime from 2050. */
export function x509Time(d: Date): Buffer {
  return d.getUTCFullYear() <= 2049 ? utcTime(d) : generalizedTime(d);
}

/** [n] EXPLICIT: a constructed context-specific tag around a whole encoding. */
export function explicit(n: number, inner: Uint8Array): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`context tag [${n}] needs the high-tag-number form`);
  return tlv(0xa0 | n, inner);
}

/** [n] IMPLICIT on a primitive type: the context-specific tag replaces the type's own (GeneralName's forms). */
export function implicitPrimitive(n: number, contents: Uint8Array): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`context tag [${n}] needs the high-tag-number form`);
  return tlv(0x80 | n, contents);
}

/** One value read back: its tag, its contents, and where the next value starts. */
export interface Tlv {
  tag: number;
  contents: Buffer;
  end: number;
}

/** Reads the value starting at offset (definite lengths only, as DER has). Throws on truncation. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  const tag = buf[offset];
  const first = buf[offset + 1];
  if (tag === undefined || first === undefined) throw new RangeError(`DER truncated at offset ${offset}`);
  let length = first;
  let start = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new RangeError(`DER length of ${count} octets at offset ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) {
      const b = buf[start + i];
      if (b === undefined) throw new RangeError(`DER truncated at offset ${offset}`);
      length = length * 256 + b;
    }
    start += count;
  }
  const end = start + length;
  if (end > buf.length) throw new RangeError(`DER value at offset ${offset} runs past the end (${end} > ${buf.length})`);
  return { tag, contents: buf.subarray(start, end), end };
}

/** The values inside a constructed value's contents, in order. */
export function readChildren(contents: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < contents.length; ) {
    const t = readTlv(contents, at);
    out.push(t);
    at = t.end;
  }
  return out;
}
