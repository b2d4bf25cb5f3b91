// The child's end of the control channel: the IPC channel when the parent opened one (fork, or
// spawn with 'ipc' in stdio), otherwise one JSON object per line on stdin/stdout, which also
// works through wrappers such as clinic that do not pass an IPC channel on.

import { createInterface } from 'node:readline';
import type { ChildMessage } from './contender-contract.js';

export interface ChildChannel {
  readonly kind: 'ipc' | 'stdio';
  /** Sends msg; done runs once it has been handed to the OS (or failed). */
  send(msg: ChildMessage, done?: () => void): void;
  /** Every request from the parent, not yet validated. */
  onRequest(cb: (msg: unknown) => void): void;
  /** The parent went away (IPC disconnected, stdin ended). */
  onLost(cb: () => void): void;
  /** Closes the channel so that it no longer keeps the event loop alive. */
  close(): void;
}

export function openChildChannel(): ChildChannel {
  return process.send === undefined ? stdioChannel() : ipcChannel();
}

function ipcChannel(): ChildChannel {
  return {
    kind: 'ipc',
    send: (msg, done) => {
      if (process.connected && process.send !== undefined) process.send(msg, undefined, {}, () => done?.());
      else done?.();
    },
    onRequest: (cb) => process.on('message', cb),
    onLost: (cb) => process.on('disconnect', cb),
    close: () => {
      if (process.connected) process.disconnect();
    },
  };
}

function stdioChannel(): ChildChannel {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let closed = false;
  return {
    kind: 'stdio',
    // Writes to a pipe are synchronous on Linux, so the line is out when write() returns.
    send: (msg, done) => {
      process.stdout.write(`${JSON.stringify(msg)}\n`, () => done?.());
    },
    onRequest: (cb) =>
      lines.on('line', (line) => {
        if (line.trim() === '') return;
        try {
          cb(JSON.parse(line));
        } catch {
          cb(undefined);
        }
      }),
    onLost: (cb) =>
      lines.on('close', () => {
        if (!closed) cb();
      }),
    close: () => {
      closed = true;
      lines.close();
      process.stdin.destroy();
    },
  };
}
