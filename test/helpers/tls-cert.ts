// A certificate for the TLS tests: self-signed, for 127.0.0.1 and localhost, made once per key
// type per test process into a temporary directory and removed at exit. Made by src/tls/certs.ts,
// the code a run uses, so the tests serve what a run serves and need no openssl command.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCertificate } from '../../src/tls/certs.js';

export interface TestCert {
  keyPem: string;
  certPem: string;
  keyFile: string;
  certFile: string;
}

const made = new Map<string, TestCert>();

/** keyType: 'ec' (P-256, the default) or 'rsa' (2048 bits). */
export function testCert(keyType: 'ec' | 'rsa' = 'ec'): TestCert {
  const had = made.get(keyType);
  if (had !== undefined) return had;
  const dir = mkdtempSync(join(tmpdir(), 'c1m-test-cert-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const { keyFile, certFile } = writeCertificate(dir, { keyType, days: 2 });
  const cert = { keyPem: readFileSync(keyFile, 'utf8'), certPem: readFileSync(certFile, 'utf8'), keyFile, certFile };
  made.set(keyType, cert);
  return cert;
}
