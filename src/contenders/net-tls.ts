// node:tls for the net contender: the server options a ServerTls asks for, the count of every
// handshake by how it ended, and what the contender reports it applies (AppliedTls).

import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type net from 'node:net';
import type tls from 'node:tls';
import type { AppliedTls, ServerTls } from './contender-contract.js';

/** What node:tls is built on here: the OpenSSL Node links. */
export const NODE_TLS_LIBRARY = `node:tls (OpenSSL ${process.versions.openssl})`;

/** Bytes of node:tls's ticketKeys. */
const NODE_TICKET_KEY_BYTES = 48;

/** The code of the error node:tls gives 'tlsClientError' when handshakeTimeout passes. */
const HANDSHAKE_TIMEOUT = 'ERR_TLS_HANDSHAKE_TIMEOUT';

/**
 * Options for tls.createServer / https.createServer. Tickets off is SSL_OP_NO_TICKET: OpenSSL then
 * issues no stateless ticket, and the stateful ones it issues instead (TLS 1.3) or the session ids
 * (TLS 1.2) resume nothing, because a Node server keeps no session cache unless it listens for
 * 'newSession' and 'resumeSession', which this one does not (test/contenders-tls.test.ts checks
 * that a presented session is not reused).
 */
export function nodeTlsOptions(t: ServerTls): tls.TlsOptions {
  return {
    cert: readFileSync(t.certFile),
    key: readFileSync(t.keyFile),
    handshakeTimeout: t.handshakeTimeoutMs,
    // The client's order of cipher suites decides, as it does for the engine and uWS: with the same
    // driver every contender negotiates the same suite (a node:tls server otherwise picks its own
    // first, AES-256-GCM-SHA384, where the others follow a client that asks AES-128-GCM first).
    honorCipherOrder: false,
    ...(t.tickets ? {} : { secureOptions: constants.SSL_OP_NO_TICKET }),
    // The run's shared ticket key: node:tls takes 48 bytes (16 of name, 16 of HMAC key, 16 of AES
    // key), the first 48 of the file. A session also carries its server's session id context,
    // which node:tls derives from process.argv (each worker's differs): one fixed context lets
    // every worker take the others' tickets.
    ...(t.tickets && t.ticketKeyFile !== undefined
      ? { ticketKeys: readFileSync(t.ticketKeyFile).subarray(0, NODE_TICKET_KEY_BYTES), sessionIdContext: 'c1m' }
      : {}),
  };
}

export function appliedNodeTls(t: ServerTls): AppliedTls {
  return {
    library: NODE_TLS_LIBRARY,
    tickets: t.tickets,
    handshakeTimeoutMs: t.handshakeTimeoutMs,
    ...(t.tickets ? { sharedTicketKey: t.ticketKeyFile !== undefined } : {}),
  };
}

/**
 * Every handshake on a tls.Server (or https.Server), counted from node:tls's own events:
 * 'secureConnection' (full or resumed, by isSessionReused()) and 'tlsClientError' (the handshake
 * timeout, or any other failure). Also keeps the TCP connections still in their handshake, which
 * the drain closes at once: nothing of the application has arrived on them.
 */
export class TlsHandshakes {
  #full = 0;
  #resumed = 0;
  #failed = 0;
  #timeouts = 0;
  /**
   * TCP sockets whose handshake has not finished, by remote address and port: 'secureConnection'
   * hands over a TLSSocket, not the TCP socket it was made from, and the peer's address and port
   * are what both share (unique among the open connections of one listener).
   */
  readonly #handshaking = new Map<string, net.Socket>();

  constructor(server: tls.Server) {
    server.on('connection', (raw: net.Socket) => {
      const key = peerKey(raw);
      this.#handshaking.set(key, raw);
      raw.once('close', () => {
        if (this.#handshaking.get(key) === raw) this.#handshaking.delete(key);
      });
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      this.#handshaking.delete(peerKey(socket));
      if (socket.isSessionReused()) this.#resumed++;
      else this.#full++;
    });
    server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      if (err.code === HANDSHAKE_TIMEOUT) this.#timeouts++;
      else this.#failed++;
      // node:tls reports the handshake timeout and leaves the connection open (https closes it
      // only by its own socket timeout, off here): the timeout is only kept if it is closed here.
      socket.destroy();
    });
  }

  /** The counters for ServerStats.extra. */
  extra(): Record<string, number> {
    return { tlsHandshakes: this.#full, tlsResumed: this.#resumed, tlsHandshakeFailed: this.#failed, tlsHandshakeTimeouts: this.#timeouts };
  }

  /** Closes every connection still in its handshake; returns how many it closed. */
  closeHandshaking(): number {
    const n = this.#handshaking.size;
    for (const raw of this.#handshaking.values()) raw.destroy();
    this.#handshaking.clear();
    return n;
  }
}

function peerKey(s: net.Socket): string {
  return `${s.remoteAddress}|${s.remotePort}`;
}
