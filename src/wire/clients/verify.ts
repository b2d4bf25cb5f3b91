// The primer's question before any measurement: does this server answer the protocol correctly?

import { randomBytes } from 'node:crypto';
import type { Protocol } from '../protocols.js';
import { frameEchoCheck } from './frame.js';
import { httpHelloCheck } from './http.js';
import { DEFAULT_CHECK_TIMEOUT_MS, tcpEchoCheck, type Target } from './tcp.js';
import { wsBroadcastCheck, wsEchoCheck } from './ws.js';

/**
 * Runs a short conformance check of protocol against target (a few round trips, small
 * payloads, one pipelined batch). Resolves when the server answered correctly; rejects with an
 * Error that says what was wrong otherwise.
 */
export async function verifyProtocol(protocol: Protocol, target: Target, timeoutMs = DEFAULT_CHECK_TIMEOUT_MS,
  opts: { joinByMessage?: boolean } = {}): Promise<void> {
  switch (protocol) {
    case 'tcp-echo':
      await tcpEchoCheck(target, randomBytes(4096), { timeoutMs });
      return;
    case 'frame-echo':
      await frameEchoCheck(target, [Buffer.alloc(0), randomBytes(1), randomBytes(1000)], { cut: [1, 3, 7], timeoutMs });
      return;
    case 'http-hello':
      await httpHelloCheck(target, undefined, timeoutMs);
      return;
    case 'ws-echo':
      await wsEchoCheck(target, ['primer', randomBytes(100)], timeoutMs);
      return;
    case 'ws-broadcast':
      await wsBroadcastCheck(target, 2, timeoutMs, opts.joinByMessage ?? true);
      return;
  }
}
