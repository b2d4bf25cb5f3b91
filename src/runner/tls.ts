// A run over TLS (`c1m run --tls`): one certificate made for the run (src/tls/certs.ts, removed
// when the run ends), and what each side is told of it. Contenders serve with the certificate and
// key files, and with tickets one ticket key they all share; drivers offer tickets back when
// --tls-tickets is on; the primer and the conformance cases verify the server against the
// certificate, so a contender that serves the wrong one, or no TLS at all, is never measured.

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerTls } from '../contenders/contender-contract.js';
import { TICKET_KEY_BYTES } from '../engine/options.js';
import type { DriverTls } from '../drivers/driver-contract.js';
import { makeRunCertificate, type RunCertificate } from '../tls/certs.js';
import type { TargetTls } from '../wire/clients/tcp.js';
import type { StandardParams } from './scenario.js';

/** The name the run's certificate is made for, and the SNI its clients send. */
export const RUN_TLS_NAME = 'localhost';

export interface RunTls {
  readonly server: ServerTls;
  readonly driver: DriverTls;
  readonly target: TargetTls;
  readonly fingerprint256: string;
  /** Removes the certificate's directory; idempotent. */
  dispose(): void;
}

/** The run's TLS, or null when --tls is off. The caller disposes it when the run ends. */
export function runTls(p: Pick<StandardParams, 'tls' | 'tlsKey' | 'tlsTickets' | 'tlsHandshakeTimeout'>): RunTls | null {
  if (!p.tls) return null;
  const cert: RunCertificate = makeRunCertificate({ keyType: p.tlsKey, commonName: RUN_TLS_NAME });
  try {
    const certPem = readFileSync(cert.certFile, 'utf8');
    // One ticket key for every worker of every contender, beside the certificate (and removed
    // with it): a contender split over processes resumes a ticket wherever the next connection
    // lands, as one service behind one port does (uWS cannot be given it; its result says so).
    let ticketKeyFile: string | undefined;
    if (p.tlsTickets) {
      ticketKeyFile = join(cert.dir, 'ticket.key');
      writeFileSync(ticketKeyFile, randomBytes(TICKET_KEY_BYTES), { mode: 0o600 });
    }
    return {
      server: {
        certFile: cert.certFile,
        keyFile: cert.keyFile,
        keyType: p.tlsKey,
        tickets: p.tlsTickets,
        handshakeTimeoutMs: Math.round(p.tlsHandshakeTimeout * 1000),
        ...(ticketKeyFile !== undefined ? { ticketKeyFile } : {}),
      },
      driver: { resume: p.tlsTickets, ca: certPem, servername: RUN_TLS_NAME },
      target: { ca: certPem, servername: RUN_TLS_NAME },
      fingerprint256: cert.fingerprint256,
      dispose: () => cert.dispose(),
    };
  } catch (err) {
    cert.dispose();
    throw err;
  }
}
