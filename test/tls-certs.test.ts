// Each run's certificate (src/tls/certs.ts) and the DER writer under it (src/tls/der.ts): the
// writer against X.690's own examples; then for each key type, the certificate as node:crypto
// reads it (names, validity, key, extensions, its self-signature) and as node:tls uses it (a
// real handshake on 127.0.0.1 that verifies it by DNS name and by IP address, and refuses it for
// a name it does not hold or against another certificate); a tampered copy fails to verify; the
// files written and the run's directory removed; bad options refused with clear errors.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import * as der from '../src/tls/der.js';
import { generateCertificate, ipOctets, makeRunCertificate, writeCertificate, type CertificateOptions, type KeyType } from '../src/tls/certs.js';
import { checkServerTls } from '../src/contenders/contender-config.js';
import { TICKET_KEY_BYTES } from '../src/engine/options.js';
import { runTls } from '../src/runner/tls.js';
import { testCert } from './helpers/tls-cert.js';

const hex = (b: Buffer): string => b.toString('hex');

/** The certificate's DER from its PEM, decoded here without the module under test. */
function derOf(certPem: string): Buffer {
  const m = /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=\n]+)\n-----END CERTIFICATE-----\n$/.exec(certPem);
  assert.ok(m !== null, `one PEM certificate, 64-column base64: ${certPem}`);
  for (const line of (m[1] as string).split('\n').slice(0, -1)) assert.equal(line.length, 64);
  return Buffer.from(m[1] as string, 'base64');
}

const toPem = (d: Buffer): string => `-----BEGIN CERTIFICATE-----\n${d.toString('base64').replace(/.{64}(?=.)/g, '$&\n')}\n-----END CERTIFICATE-----\n`;

describe('the DER writer, against X.690', () => {
  it('lengths: short form below 128, long form with the fewest octets', () => {
    assert.equal(hex(der.encodeLength(0)), '00');
    assert.equal(hex(der.encodeLength(127)), '7f');
    assert.equal(hex(der.encodeLength(128)), '8180');
    assert.equal(hex(der.encodeLength(255)), '81ff');
    assert.equal(hex(der.encodeLength(256)), '820100');
    assert.equal(hex(der.encodeLength(65536)), '83010000');
    assert.throws(() => der.encodeLength(-1), RangeError);
    assert.equal(hex(der.tlv(0x04, Buffer.alloc(200)).subarray(0, 3)), '0481c8');
  });

  it('integers: two\'s complement, minimal, unsigned bytes kept positive', () => {
    const cases: [bigint, string][] = [[0n, '020100'], [127n, '02017f'], [128n, '02020080'], [256n, '02020100'], [-1n, '0201ff'], [-128n, '020180'], [-129n, '0202ff7f'], [2n, '020102']];
    for (const [v, want] of cases) assert.equal(hex(der.integer(v)), want, String(v));
    assert.equal(hex(der.integer(Buffer.from([0, 0, 0x80]))), '02020080');
    assert.equal(hex(der.integer(Buffer.from([0x7f, 0xff]))), '02027fff');
    assert.equal(hex(der.integer(Buffer.from([0, 0]))), '020100');
  });

  it('object identifiers: X.690\'s {2 999 3} and RSA\'s arc', () => {
    assert.equal(hex(der.oid('2.999.3')), '0603883703');
    assert.equal(hex(der.oid('1.2.840.113549')), '06062a864886f70d');
    assert.equal(hex(der.oid('2.5.29.17')), '0603551d11');
    assert.equal(hex(der.oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302');
    assert.throws(() => der.oid('1.40'), RangeError);
    assert.throws(() => der.oid('3.1'), RangeError);
  });

  it('named bits drop trailing zeros; booleans, NULL and strings', () => {
    assert.equal(hex(der.namedBits([0])), '03020780');
    assert.equal(hex(der.namedBits([0, 2])), '030205a0');
    assert.equal(hex(der.namedBits([0, 5])), '03020284');
    assert.equal(hex(der.namedBits([8])), '0303070080');
    assert.equal(hex(der.bitString(Buffer.from([1, 2]))), '0303000102');
    assert.equal(hex(der.boolean(true)), '0101ff');
    assert.equal(hex(der.boolean(false)), '010100');
    assert.equal(hex(der.nullValue()), '0500');
    assert.equal(hex(der.printableString('Ab 1')), '130441622031');
    assert.throws(() => der.printableString('a_b'), RangeError);
    assert.equal(hex(der.utf8String('é')), '0c02c3a9');
    assert.equal(hex(der.explicit(0, der.integer(2n))), 'a003020102');
    assert.equal(hex(der.implicitPrimitive(7, Buffer.from([127, 0, 0, 1]))), '87047f000001');
  });

  it('SET OF sorts its encodings; times switch from UTCTime to GeneralizedTime in 2050', () => {
    assert.equal(hex(der.setOf(der.integer(2n), der.integer(1n))), '3106020101020102');
    assert.equal(der.utcTime(new Date('2049-12-31T23:59:59.900Z')).toString('latin1'), '\x17\x0d491231235959Z');
    assert.equal(der.x509Time(new Date('2050-01-01T00:00:00Z')).toString('latin1'), '\x18\x0f20500101000000Z');
    assert.equal(der.x509Time(new Date('1999-02-03T04:05:06Z')).toString('latin1'), '\x17\x0d990203040506Z');
    assert.throws(() => der.utcTime(new Date('2050-01-01T00:00:00Z')), RangeError);
  });

  it('reads back what it writes, and refuses a truncated value', () => {
    const s = der.sequence(der.integer(5n), der.octetString(Buffer.alloc(300, 7)));
    const outer = der.readTlv(s);
    assert.equal(outer.tag, 0x30);
    assert.equal(outer.end, s.length);
    const [a, b] = der.readChildren(outer.contents);
    assert.deepEqual([a?.tag, hex(a?.contents ?? Buffer.alloc(0))], [0x02, '05']);
    assert.equal(b?.contents.length, 300);
    assert.throws(() => der.readTlv(s.subarray(0, s.length - 1)), /runs past the end/);
  });

  it('IP addresses as a SAN holds them: 4 or 16 octets', () => {
    assert.equal(hex(ipOctets('127.0.0.1')), '7f000001');
    assert.equal(hex(ipOctets('::1')), '00000000000000000000000000000001');
    assert.equal(hex(ipOctets('::')), '0'.repeat(32));
    assert.equal(hex(ipOctets('fe80::')), 'fe80' + '0'.repeat(28));
    assert.equal(hex(ipOctets('2001:db8::ffff:10.0.0.1')), '20010db8000000000000ffff0a000001');
    assert.equal(hex(ipOctets('::ffff:192.168.1.2')), '00000000000000000000ffffc0a80102');
    assert.equal(hex(ipOctets('1:2:3:4:5:6:7:8')), '00010002000300040005000600070008');
    assert.throws(() => ipOctets('localhost'), RangeError);
  });
});

/** The bytes a server echoes back to a client that connects with opts; rejects on any TLS error. Bounded. */
async function echoOver(cert: { keyPem: string; certPem: string }, opts: tls.ConnectionOptions, payload: Buffer): Promise<{ echoed: Buffer; authorized: boolean }> {
  const server = tls.createServer({ key: cert.keyPem, cert: cert.certPem }, (s) => {
    s.on('error', () => {}); // the client's refusal of the certificate reaches the server as a reset or an alert
    s.pipe(s);
  });
  let client: tls.TLSSocket | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const port = (server.address() as AddressInfo).port;
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10_000);
      const chunks: Buffer[] = [];
      let got = 0;
      const c = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: true, ...opts }, () => c.write(payload));
      client = c;
      c.on('data', (d: Buffer) => {
        chunks.push(d);
        got += d.length;
        if (got >= payload.length) {
          clearTimeout(timer);
          resolve({ echoed: Buffer.concat(chunks), authorized: c.authorized });
        }
      });
      c.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  } finally {
    client?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function includes(haystack: Buffer, needleHex: string): boolean {
  return haystack.includes(Buffer.from(needleHex.replace(/\s/g, ''), 'hex'));
}

/** The key bits a SubjectKeyIdentifier hashes, taken from node:crypto's own key exports. */
function keyBits(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'rsa') return key.export({ type: 'pkcs1', format: 'der' });
  const jwk = key.export({ format: 'jwk' });
  return Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
}

for (const keyType of ['ec', 'rsa'] as const) {
  describe(`an ${keyType} certificate`, () => {
    const before = Date.now();
    const cert = generateCertificate({ keyType });
    const after = Date.now();
    const x509 = new X509Certificate(cert.certPem);
    const certDer = derOf(cert.certPem);

    it('names localhost as subject and issuer, with localhost and 127.0.0.1 as alternative names', () => {
      assert.equal(x509.subject, 'CN=localhost');
      assert.equal(x509.issuer, 'CN=localhost');
      assert.equal(x509.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
      assert.equal(x509.checkHost('localhost'), 'localhost');
      assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
      assert.equal(x509.checkHost('example.com'), undefined);
    });

    it('is valid from a minute before it was made for 7 days', () => {
      const from = Date.parse(x509.validFrom);
      const to = Date.parse(x509.validTo);
      assert.ok(from <= before - 59_000 && from >= before - 61_000, `validFrom ${x509.validFrom}, made at ${new Date(before).toISOString()}`);
      assert.ok(from <= after);
      assert.equal(to - from, 7 * 86_400_000);
    });

    it('holds its own key: the right type and size, matching the PKCS#8 private key', () => {
      assert.match(cert.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
      const priv = createPrivateKey(cert.keyPem);
      assert.equal(x509.publicKey.asymmetricKeyType, keyType);
      if (keyType === 'ec') assert.equal(x509.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      else assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.equal(x509.checkPrivateKey(priv), true);
      assert.equal(x509.checkPrivateKey(createPrivateKey(generateCertificate({ keyType }).keyPem)), false, 'another certificate\'s key does not match');
    });

    it('is signed by itself with the named algorithm', () => {
      assert.equal(x509.verify(x509.publicKey), true);
      const other = new X509Certificate(generateCertificate({ keyType }).certPem);
      assert.equal(x509.verify(other.publicKey), false);
      const sigAlg = keyType === 'ec' ? '300a06082a8648ce3d040302' : '300d06092a864886f70d01010b0500';
      // The AlgorithmIdentifier appears twice: inside the TBSCertificate and after it.
      assert.equal(certDer.toString('hex').split(sigAlg).length - 1, 2);
    });

    it('is v3 with a positive 16-octet serial, and its fingerprint is the DER\'s SHA-256', () => {
      assert.ok(includes(certDer, 'a003020102'), 'version [0] v3');
      assert.match(x509.serialNumber, /^[4-7][0-9A-F]{31}$/);
      assert.notEqual(new X509Certificate(generateCertificate({ keyType }).certPem).serialNumber, x509.serialNumber);
      assert.equal(cert.fingerprint256, x509.fingerprint256);
      assert.equal(cert.fingerprint256.replaceAll(':', ''), createHash('sha256').update(certDer).digest('hex').toUpperCase());
    });

    it('is an end entity for server authentication, with its key\'s identifier', () => {
      assert.equal(x509.ca, false);
      assert.ok(!includes(certDer, '0603551d13'), 'no basicConstraints');
      // keyUsage, critical: digitalSignature, and for RSA keyEncipherment too.
      assert.ok(includes(certDer, `0603551d0f 0101ff 0404 ${keyType === 'ec' ? '03020780' : '030205a0'}`));
      assert.deepEqual(x509.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extendedKeyUsage serverAuth (node names it keyUsage)');
      const ski = createHash('sha1').update(keyBits(x509.publicKey)).digest('hex');
      assert.ok(includes(certDer, `0603551d0e 0416 0414 ${ski}`), 'subjectKeyIdentifier: SHA-1 of the key bits');
    });

    it('serves TLS to a client that trusts it, by DNS name and by IP address, echoing bytes', async () => {
      const payload = Buffer.from(`hello over ${keyType}`);
      const byName = await echoOver(cert, { ca: cert.certPem, servername: 'localhost' }, payload);
      assert.deepEqual(byName, { echoed: payload, authorized: true });
      const byIp = await echoOver(cert, { ca: cert.certPem }, payload);
      assert.deepEqual(byIp, { echoed: payload, authorized: true });
    });

    it('is refused for a name it does not hold, and by a client that trusts another certificate', async () => {
      const payload = Buffer.from('x');
      await assert.rejects(echoOver(cert, { ca: cert.certPem, servername: 'example.com' }, payload), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      const other = generateCertificate({ keyType });
      await assert.rejects(echoOver(cert, { ca: other.certPem, servername: 'localhost' }, payload), (err: NodeJS.ErrnoException) => {
        assert.match(err.code ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT/);
        return true;
      });
    });

    it('fails to verify once a byte of what it signed is changed', () => {
      const tampered = Buffer.from(certDer);
      const at = tampered.indexOf(Buffer.from('localhost', 'latin1'));
      assert.ok(at > 0);
      tampered[at + 8] = 0x75; // "localhost" → "localhosu" in the issuer
      const t = new X509Certificate(toPem(tampered));
      assert.equal(t.issuer, 'CN=localhosu');
      assert.equal(t.verify(x509.publicKey), false);
      assert.equal(t.verify(t.publicKey), false);
    });
  });
}

describe('certificate options', () => {
  it('a chosen common name, alternative names and lifetime', () => {
    const c = generateCertificate({ keyType: 'ec', commonName: 'c1m bänch', altNames: { dns: ['bench.test', '*.bench.test'], ip: ['10.1.2.3', '::1'] }, days: 1 });
    const x = new X509Certificate(c.certPem);
    assert.equal(x.subject, 'CN=c1m bänch');
    assert.ok(includes(derOf(c.certPem), `0c0a ${Buffer.from('c1m bänch').toString('hex')}`), 'UTF8String where PrintableString cannot hold it');
    assert.equal(x.subjectAltName, 'DNS:bench.test, DNS:*.bench.test, IP Address:10.1.2.3, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(x.checkHost('a.bench.test'), '*.bench.test', 'the wildcard name matches');
    assert.equal(Date.parse(x.validTo) - Date.parse(x.validFrom), 86_400_000);
    assert.equal(x.verify(x.publicKey), true);
    assert.ok(includes(derOf(generateCertificate({ keyType: 'ec', commonName: 'c1m bench' }).certPem), `1309 ${Buffer.from('c1m bench').toString('hex')}`), 'PrintableString where it can');
  });

  it('a lifetime past 2049 is written as GeneralizedTime and read back', () => {
    const c = generateCertificate({ keyType: 'ec', days: 36_500 });
    const x = new X509Certificate(c.certPem);
    assert.ok(new Date(x.validTo).getUTCFullYear() >= 2126);
    assert.ok(includes(derOf(c.certPem), '180f'), 'GeneralizedTime');
    assert.equal(x.verify(x.publicKey), true);
  });

  it('bad options are refused with errors that say what is wanted', () => {
    const bad = (o: unknown): CertificateOptions => o as CertificateOptions;
    assert.throws(() => generateCertificate(bad(undefined)), { name: 'TypeError', message: /options must be an object/ });
    assert.throws(() => generateCertificate(bad({})), { name: 'TypeError', message: "keyType must be one of 'ec', 'rsa', not undefined" });
    assert.throws(() => generateCertificate(bad({ keyType: 'dsa' })), { name: 'TypeError', message: `keyType must be one of 'ec', 'rsa', not "dsa"` });
    assert.throws(() => generateCertificate(bad({ keyType: 'ec', keytype: 'rsa' })), { name: 'TypeError', message: 'unknown certificate option "keytype" (known: keyType, commonName, altNames, days)' });
    for (const days of [0, -1, 1.5, 36_501, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => generateCertificate({ keyType: 'ec', days }), { name: 'RangeError', message: /^days must be a whole number from 1 to 36500/ }, String(days));
    }
    assert.throws(() => generateCertificate(bad({ keyType: 'ec', days: '7' })), { name: 'TypeError', message: 'days must be a number, not string' });
    assert.throws(() => generateCertificate({ keyType: 'ec', commonName: '' }), { name: 'RangeError', message: /commonName must be 1 to 64 characters/ });
    assert.throws(() => generateCertificate({ keyType: 'ec', commonName: 'x'.repeat(65) }), { name: 'RangeError' });
    assert.throws(() => generateCertificate({ keyType: 'ec', commonName: 'a\nb' }), { name: 'RangeError', message: /control characters/ });
    assert.throws(() => generateCertificate({ keyType: 'ec', altNames: { dns: [], ip: [] } }), { name: 'RangeError', message: 'altNames needs at least one DNS name or IP address' });
    assert.throws(() => generateCertificate({ keyType: 'ec', altNames: { dns: ['bad_name'], ip: [] } }), { name: 'RangeError', message: /altNames\.dns: "bad_name" is not a DNS name/ });
    assert.throws(() => generateCertificate({ keyType: 'ec', altNames: { dns: ['127.0.0.1'], ip: [] } }), { name: 'RangeError', message: 'altNames.dns: "127.0.0.1" is an IP address; put it in altNames.ip' });
    assert.throws(() => generateCertificate({ keyType: 'ec', altNames: { dns: [], ip: ['999.1.1.1'] } }), { name: 'RangeError', message: 'altNames.ip: "999.1.1.1" is not an IPv4 or IPv6 address' });
    assert.throws(() => generateCertificate(bad({ keyType: 'ec', altNames: { dns: 'localhost', ip: [] } })), { name: 'TypeError', message: 'altNames.dns must be an array of strings' });
  });
});

describe('certificate files', () => {
  it('writeCertificate: cert.pem and key.pem, the key 0600, both parse and match; never overwritten', () => {
    const dir = mkdtempSync(join(tmpdir(), 'c1m-tls-test-'));
    try {
      const w = writeCertificate(dir, { keyType: 'rsa' });
      assert.deepEqual(Object.keys(w).sort(), ['certFile', 'fingerprint256', 'keyFile', 'keyType']);
      assert.equal(w.certFile, join(dir, 'cert.pem'));
      assert.equal(w.keyFile, join(dir, 'key.pem'));
      assert.equal(w.keyType, 'rsa');
      assert.equal(statSync(w.keyFile).mode & 0o777, 0o600);
      const x = new X509Certificate(readFileSync(w.certFile));
      assert.equal(x.fingerprint256, w.fingerprint256);
      assert.equal(x.checkPrivateKey(createPrivateKey(readFileSync(w.keyFile))), true);
      const key = readFileSync(w.keyFile, 'utf8');
      assert.throws(() => writeCertificate(dir, { keyType: 'rsa' }), { code: 'EEXIST' });
      assert.equal(readFileSync(w.keyFile, 'utf8'), key, 'the existing key is untouched');
      // With the key gone but the certificate there, the new key is taken back rather than left alone.
      rmSync(w.keyFile);
      assert.throws(() => writeCertificate(dir, { keyType: 'ec' }), { code: 'EEXIST' });
      assert.equal(existsSync(w.keyFile), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makeRunCertificate: a fresh c1m-tls- directory, removed by dispose (twice is fine)', () => {
    const a = makeRunCertificate({ keyType: 'ec' });
    const b = makeRunCertificate({ keyType: 'ec' });
    try {
      assert.equal(dirname(a.dir), tmpdir());
      assert.match(basename(a.dir), /^c1m-tls-.{6}$/);
      assert.notEqual(a.dir, b.dir);
      assert.notEqual(a.fingerprint256, b.fingerprint256);
      assert.equal(a.certFile, join(a.dir, 'cert.pem'));
      assert.equal(statSync(a.keyFile).mode & 0o777, 0o600);
      assert.equal(new X509Certificate(readFileSync(a.certFile)).fingerprint256, a.fingerprint256);
      writeFileSync(join(a.dir, 'extra'), 'x');
      a.dispose();
      assert.equal(existsSync(a.dir), false);
      a.dispose();
      assert.equal(existsSync(b.dir), true, 'one run\'s dispose leaves another\'s alone');
    } finally {
      a.dispose();
      b.dispose();
    }
    assert.equal(existsSync(b.dir), false);
    assert.throws(() => makeRunCertificate({ keyType: 'dsa' as KeyType }), TypeError);
  });
});

describe('the test fixture (test/helpers/tls-cert.ts)', () => {
  it('one certificate per key type per process, its files matching its PEMs, good for a handshake', async () => {
    const ec = testCert();
    assert.equal(testCert('ec'), ec, 'made once');
    const rsa = testCert('rsa');
    assert.notEqual(rsa, ec);
    for (const [c, type] of [[ec, 'ec'], [rsa, 'rsa']] as const) {
      assert.equal(readFileSync(c.keyFile, 'utf8'), c.keyPem);
      assert.equal(readFileSync(c.certFile, 'utf8'), c.certPem);
      assert.equal(statSync(c.keyFile).mode & 0o777, 0o600);
      const x = new X509Certificate(c.certPem);
      assert.equal(x.publicKey.asymmetricKeyType, type);
      assert.equal(x.checkPrivateKey(createPrivateKey(c.keyPem)), true);
    }
    const payload = Buffer.from('fixture');
    assert.deepEqual(await echoOver(ec, { ca: ec.certPem, servername: 'localhost' }, payload), { echoed: payload, authorized: true });
  });

  it('its directory is gone when the process that made it exits', () => {
    const helper = pathToFileURL(join(dirname(new URL(import.meta.url).pathname), 'helpers/tls-cert.js')).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `const { testCert } = await import(${JSON.stringify(helper)}); console.log(testCert('rsa').keyFile);`], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const keyFile = r.stdout.trim();
    assert.match(keyFile, /c1m-test-cert-.{6}\/key\.pem$/);
    assert.equal(existsSync(dirname(keyFile)), false);
  });
});

describe("a run's TLS (src/runner/tls.ts)", () => {
  const params = { tls: true, tlsKey: 'ec', tlsHandshakeTimeout: 10 } as const;

  it('with tickets: one ticket key beside the certificate (mode 0600, the bytes a server takes), gone with it', () => {
    const t = runTls({ ...params, tlsTickets: true });
    assert.ok(t);
    try {
      const file = t.server.ticketKeyFile;
      assert.ok(file !== undefined);
      assert.equal(dirname(file), dirname(t.server.certFile));
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(readFileSync(file).length, TICKET_KEY_BYTES);
      assert.deepEqual(checkServerTls(t.server), t.server);
    } finally {
      t.dispose();
    }
    assert.equal(existsSync(dirname(t.server.certFile)), false);
  });

  it('without tickets: no ticket key', () => {
    const t = runTls({ ...params, tlsTickets: false });
    assert.ok(t);
    try {
      assert.equal(t.server.ticketKeyFile, undefined);
      assert.equal(t.server.tickets, false);
    } finally {
      t.dispose();
    }
  });
});
