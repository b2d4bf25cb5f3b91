// The certificate a TLS run serves (issue #20): self-signed X.509 v3, made fresh for each run in
// TypeScript with no outside program. node:crypto makes the key pair and the signature; the
// TBSCertificate around them (RFC 5280 4.1) is written here with the DER writer in ./der.ts.
// A client trusts it by being given the certificate itself as its CA (tls.connect({ ca: certPem })):
// the certificate is its own trust anchor, for the names in its subjectAltName only.
//
// basicConstraints is left out, so the certificate is an end entity. OpenSSL (3.0 under Node 20)
// verifies it either way: a self-signed certificate found among the trusted ones is the anchor
// itself, whether it says CA:TRUE, CA:FALSE or nothing (test/tls-certs.test.ts connects with
// rejectUnauthorized). Verifiers that refuse a CA certificate as a server's own (mozilla::pkix,
// webpki) then have no cA bit to refuse. keyUsage therefore has no keyCertSign.

import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as der from './der.js';

export type KeyType = 'ec' | 'rsa';

/** The key types, in the order an error lists them. */
export const KEY_TYPES: readonly KeyType[] = ['ec', 'rsa'];

export interface AltNames {
  dns: string[];
  ip: string[];
}

export interface CertificateOptions {
  /** 'ec' = ECDSA P-256 (prime256v1), 'rsa' = RSA 2048 bits. */
  keyType: KeyType;
  /** The subject's (and issuer's) CN; 'localhost' when absent. */
  commonName?: string;
  /** The names a client may reach the server by; localhost and 127.0.0.1 when absent. */
  altNames?: AltNames;
  /** Days the certificate is valid from now; 7 when absent. Whole days, 1 to 36,500. */
  days?: number;
}

export interface Certificate {
  /** The private key, PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
  keyPem: string;
  certPem: string;
  /** SHA-256 of the certificate's DER, as X509Certificate.fingerprint256 writes it (AB:CD:…). */
  fingerprint256: string;
}

export interface WrittenCertificate {
  /** cert.pem in the directory. */
  certFile: string;
  /** key.pem in the directory, mode 0600. */
  keyFile: string;
  keyType: KeyType;
  fingerprint256: string;
}

export interface RunCertificate extends WrittenCertificate {
  /** The temporary directory holding both files. */
  dir: string;
  /** Removes the directory and both files; calling it again does nothing. */
  dispose(): void;
}

export const DEFAULT_COMMON_NAME = 'localhost';
export const DEFAULT_DAYS = 7;
export const MAX_DAYS = 36_500;
const defaultAltNames = (): AltNames => ({ dns: ['localhost'], ip: ['127.0.0.1'] });

/** Object identifiers used below (RFC 5280, RFC 5758, RFC 8017). */
const OID = {
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
} as const;

/** keyUsage bit numbers (RFC 5280 4.2.1.3). */
const KU = { digitalSignature: 0, keyEncipherment: 2 } as const;

const OPTION_NAMES = ['keyType', 'commonName', 'altNames', 'days'];

interface Checked {
  keyType: KeyType;
  commonName: string;
  altNames: AltNames;
  days: number;
}

/** A DNS name as a SAN may hold it: LDH labels, optionally one leading "*" label (RFC 5280 4.2.1.6, RFC 6125). */
const DNS_NAME = /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function checkOptions(opts: unknown): Checked {
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`certificate options must be an object, not ${opts === null ? 'null' : typeof opts}`);
  const o = opts as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!OPTION_NAMES.includes(k)) throw new TypeError(`unknown certificate option "${k}" (known: ${OPTION_NAMES.join(', ')})`);
  }
  const keyType = o['keyType'];
  if (typeof keyType !== 'string' || !(KEY_TYPES as readonly string[]).includes(keyType)) {
    throw new TypeError(`keyType must be one of ${KEY_TYPES.map((k) => `'${k}'`).join(', ')}, not ${JSON.stringify(keyType) ?? 'undefined'}`);
  }
  const commonName = o['commonName'] ?? DEFAULT_COMMON_NAME;
  if (typeof commonName !== 'string') throw new TypeError(`commonName must be a string, not ${typeof commonName}`);
  // ub-common-name is 64 characters (RFC 5280 appendix A.1); control characters have no place in a name.
  if (commonName.length < 1 || commonName.length > 64) throw new RangeError(`commonName must be 1 to 64 characters, not ${commonName.length}`);
  if (/[\x00-\x1f\x7f]/.test(commonName)) throw new RangeError('commonName must not contain control characters');
  const days = o['days'] ?? DEFAULT_DAYS;
  if (typeof days !== 'number') throw new TypeError(`days must be a number, not ${typeof days}`);
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) throw new RangeError(`days must be a whole number from 1 to ${MAX_DAYS}, not ${days}`);
  return { keyType: keyType as KeyType, commonName, altNames: checkAltNames(o['altNames'] ?? defaultAltNames()), days };
}

function checkAltNames(a: unknown): AltNames {
  if (typeof a !== 'object' || a === null) throw new TypeError('altNames must be an object { dns: string[], ip: string[] }');
  const { dns, ip } = a as Record<string, unknown>;
  for (const k of Object.keys(a)) if (k !== 'dns' && k !== 'ip') throw new TypeError(`unknown altNames field "${k}" (known: dns, ip)`);
  if (!Array.isArray(dns) || !dns.every((d) => typeof d === 'string')) throw new TypeError('altNames.dns must be an array of strings');
  if (!Array.isArray(ip) || !ip.every((d) => typeof d === 'string')) throw new TypeError('altNames.ip must be an array of strings');
  for (const d of dns as string[]) {
    // An address among the DNS names would be matched as a name and never as the address a client dials.
    if (isIP(d) !== 0) throw new RangeError(`altNames.dns: "${d}" is an IP address; put it in altNames.ip`);
    if (d.length > 253 || !DNS_NAME.test(d)) throw new RangeError(`altNames.dns: "${d}" is not a DNS name (letters, digits and hyphens in dot-separated labels, optionally "*." first)`);
  }
  for (const i of ip as string[]) {
    if (isIP(i) === 0 || i.includes('%')) throw new RangeError(`altNames.ip: "${i}" is not an IPv4 or IPv6 address`);
  }
  // GeneralNames is SIZE (1..MAX): an empty subjectAltName is not a valid extension.
  if (dns.length + ip.length === 0) throw new RangeError('altNames needs at least one DNS name or IP address');
  return { dns: [...(dns as string[])], ip: [...(ip as string[])] };
}

/** The address octets a SAN's iPAddress holds: 4 for IPv4, 16 for IPv6 (RFC 5280 4.2.1.6). */
export function ipOctets(ip: string): Buffer {
  const family = isIP(ip);
  if (family === 4) return Buffer.from(ip.split('.').map(Number));
  if (family !== 6) throw new RangeError(`"${ip}" is not an IP address`);
  // IPv6: up to one "::" standing for the missing zero groups; the last 32 bits may be dotted IPv4.
  let text = ip;
  let tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4 !== null) {
    const o = ipOctets(v4[1] as string);
    tail = [((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0)];
    text = text.slice(0, -(v4[1] as string).length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const [head = '', rest] = text.split('::');
  const front = groups(head);
  const back = [...(rest === undefined ? [] : groups(rest)), ...tail];
  const all = rest === undefined ? [...front, ...back] : [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** CN=<name>; PrintableString where its characters allow, UTF8String otherwise (RFC 5280 4.1.2.6). */
function name(commonName: string): Buffer {
  const value = der.isPrintable(commonName) ? der.printableString(commonName) : der.utf8String(commonName);
  return der.sequence(der.setOf(der.sequence(der.oid(OID.commonName), value)));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  // critical is BOOLEAN DEFAULT FALSE: DER leaves a default value out (X.690 11.5).
  return der.sequence(der.oid(id), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
}

/** The subjectPublicKey bits of a DER SubjectPublicKeyInfo (SEQUENCE { algorithm, BIT STRING }). */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  const outer = der.readTlv(spki);
  const [, key] = der.readChildren(outer.contents);
  if (outer.tag !== der.TAG.SEQUENCE || key === undefined || key.tag !== der.TAG.BIT_STRING || key.contents[0] !== 0) {
    throw new Error('the exported SubjectPublicKeyInfo is not SEQUENCE { AlgorithmIdentifier, BIT STRING }');
  }
  return key.contents.subarray(1);
}

function keyPair(keyType: KeyType): { publicKey: KeyObject; privateKey: KeyObject } {
  return keyType === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** 16 random octets with the top bit clear and the next set: positive, and always 16 octets long (RFC 5280 4.1.2.2). */
function serialNumber(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return b;
}

const pem = (label: string, body: Buffer): string => `-----BEGIN ${label}-----\n${body.toString('base64').replace(/.{64}(?=.)/g, '$&\n')}\n-----END ${label}-----\n`;

/** "AB:CD:…": the hash in upper-case hex, octets separated by colons. */
const colonHex = (digest: Buffer): string => digest.toString('hex').toUpperCase().replace(/(..)(?=.)/g, '$1:');

/** A fresh key pair and a self-signed certificate for it. Throws TypeError/RangeError on bad options. */
export function generateCertificate(opts: CertificateOptions): Certificate {
  const o = checkOptions(opts);
  const { publicKey, privateKey } = keyPair(o.keyType);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // ECDSA's AlgorithmIdentifier has no parameters at all; RSA's has an explicit NULL (RFC 5758 3.2, RFC 8017 A.2.4).
  const signatureAlgorithm = o.keyType === 'ec' ? der.sequence(der.oid(OID.ecdsaWithSha256)) : der.sequence(der.oid(OID.sha256WithRsa), der.nullValue());

  // Validity: whole seconds (DER time has no fraction), starting a minute back so that a peer
  // whose clock is a little behind ours still finds the certificate valid.
  const notBefore = new Date((Math.floor(Date.now() / 1000) - 60) * 1000);
  const notAfter = new Date(notBefore.getTime() + o.days * 86_400_000);

  const keyId = createHash('sha1').update(subjectPublicKeyBits(spki)).digest();
  const generalNames = der.sequence(
    ...o.altNames.dns.map((d) => der.implicitPrimitive(2, Buffer.from(d, 'latin1'))), // dNSName [2] IA5String
    ...o.altNames.ip.map((i) => der.implicitPrimitive(7, ipOctets(i))), // iPAddress [7] OCTET STRING
  );
  const keyUsage = o.keyType === 'rsa' ? [KU.digitalSignature, KU.keyEncipherment] : [KU.digitalSignature];
  const extensions = der.sequence(
    extension(OID.subjectAltName, false, generalNames),
    extension(OID.keyUsage, true, der.namedBits(keyUsage)),
    extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))),
    extension(OID.subjectKeyIdentifier, false, der.octetString(keyId)), // SHA-1 of the key bits (RFC 5280 4.2.1.2, method 1)
  );

  const subject = name(o.commonName);
  const tbs = der.sequence(
    der.explicit(0, der.integer(2n)), // version v3
    der.integer(serialNumber()),
    signatureAlgorithm,
    subject, // issuer: itself
    der.sequence(der.x509Time(notBefore), der.x509Time(notAfter)),
    subject,
    spki,
    der.explicit(3, extensions),
  );
  // crypto.sign gives ECDSA signatures DER-encoded (Ecdsa-Sig-Value) and RSA ones PKCS#1 v1.5: what the OIDs above name.
  const signature = sign('sha256', tbs, privateKey);
  const certificate = der.sequence(tbs, signatureAlgorithm, der.bitString(signature));
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certPem: pem('CERTIFICATE', certificate),
    fingerprint256: colonHex(createHash('sha256').update(certificate).digest()),
  };
}

/**
 * Generates a certificate into dir as cert.pem and key.pem. Both are created exclusively (an
 * existing file is an error, never overwritten) and the key is mode 0600 from its creation.
 */
export function writeCertificate(dir: string, opts: CertificateOptions): WrittenCertificate {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('dir must be a non-empty path');
  const cert = generateCertificate(opts);
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  writeFileSync(keyFile, cert.keyPem, { flag: 'wx', mode: 0o600 });
  try {
    writeFileSync(certFile, cert.certPem, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    // A key without its certificate is of no use to anyone: take it back.
    unlinkSync(keyFile);
    throw err;
  }
  return { certFile, keyFile, keyType: opts.keyType, fingerprint256: cert.fingerprint256 };
}

/** A certificate for one run, in a new directory under the system's temporary one ("c1m-tls-…"). */
export function makeRunCertificate(opts: CertificateOptions): RunCertificate {
  checkOptions(opts); // before the directory exists, so bad options leave nothing behind
  const dir = mkdtempSync(join(tmpdir(), 'c1m-tls-'));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  let written: WrittenCertificate;
  try {
    written = writeCertificate(dir, opts);
  } catch (err) {
    remove();
    throw err;
  }
  let disposed = false;
  return {
    ...written,
    dir,
    dispose() {
      if (disposed) return;
      disposed = true;
      remove();
    },
  };
}
