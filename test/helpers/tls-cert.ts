// A certificate for the TLS tests: self-signed, for 127.0.0.1 and localhost, made once per test
// process into a temporary directory and removed at exit. Interim: it asks Debian's openssl
// command; src/tls/certs.ts (generated in TypeScript, no outside program) replaces it.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const newkey = keyType === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  execFileSync('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'pipe' });
  const cert = { keyPem: readFileSync(keyFile, 'utf8'), certPem: readFileSync(certFile, 'utf8'), keyFile, certFile };
  made.set(keyType, cert);
  return cert;
}
