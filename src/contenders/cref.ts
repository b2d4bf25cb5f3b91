// `c-ref`: the C reference echo server (native/ref/echo_server.cc), the floor for raw TCP echo:
// one thread, epoll edge-triggered, no Node and no JS. The contender's worker process only
// starts it and reads its counters from a shared file; the C process is named in the worker's
// ready message (servingPids), so the runner counts its CPU and memory, not the worker's. It
// speaks tcp-echo and nothing else (every other pair is skipped with that reason).
// The io_uring reference (`c-ref-uring`, cref-uring.ts) keeps the same command line, counters file
// and shutdown (native/ref/ref_common.h), so refEchoContender below drives both: the executable,
// the name and the probe are its parameters.

import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ContenderDefinition, ContenderServer, DrainResult, EffectiveLimits, ServerStats } from './contender-contract.js';

/** build/Release/c1m_ref_echo, built by `npm install` beside the addon. */
export const REF_ECHO_PATH = process.env['C1M_REF_ECHO'] ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../build/Release/c1m_ref_echo');

/** The counters file: six little-endian uint64, in this order (native/ref/ref_common.h). */
const FIELDS = ['accepted', 'active', 'closed', 'bytesIn', 'bytesOut', 'errAccept'] as const;

/** What tells one C reference echo server from another. */
export interface RefEcho {
  /** The contender's name. */
  readonly name: string;
  readonly description: string;
  /** The executable (same command line, counters file and shutdown as c1m_ref_echo). */
  readonly path: string;
  /** Throws the reason (and fix) when it cannot run here; by default: the executable is built. */
  readonly probe?: () => Promise<void>;
}

/** A contender driving a C reference echo server: c-ref (epoll) and c-ref-uring (io_uring). */
export function refEchoContender(ref: RefEcho): ContenderDefinition {
  const binary = basename(ref.path);
  return {
    name: ref.name,
    description: ref.description,
    speaks: (protocol) => (protocol === 'tcp-echo' ? true : 'the C reference speaks raw TCP echo only'),
    speaksTls: () => 'no TLS: the C reference serves plain TCP only',
    sharedPort: () => true,
    countsPayloadBytes: () => true,
    joinByMessage: false,
    notProfilable: `${ref.name} serves from a C process (${binary}, a child of the contender worker), not from a Node worker; profile that process with perf record -p PID`,
    probe:
      ref.probe ??
      (async () => {
        try {
          accessSync(ref.path, constants.X_OK);
        } catch {
          throw new Error(`${ref.path} is not built (npm run build:native builds it)`);
        }
      }),
    start: async (config) => startRef(ref, config),
  };
}

export const crefContender = refEchoContender({
  name: 'c-ref',
  description: 'a C reference echo server (one thread, epoll edge-triggered, no Node): the floor for raw TCP echo',
  path: REF_ECHO_PATH,
});

/** The worker's exit code when its C program ended on its own while serving. */
export const REF_DIED_EXIT_CODE = 71;

async function startRef(ref: RefEcho, config: ChildConfig): Promise<ContenderServer> {
  const binary = basename(ref.path);
  if (config.protocol !== 'tcp-echo') throw new RangeError(`${ref.name} speaks tcp-echo only, not ${config.protocol}`);
  if (config.host.includes(':')) throw new RangeError(`${ref.name} listens on IPv4 only`);
  const dir = mkdtempSync(join(tmpdir(), 'c1m-cref-'));
  const file = join(dir, 'counters');
  const args = [config.host, String(config.port), String(config.limits.backlog), file, ...(config.portMode === 'shared' ? ['reuseport'] : [])];
  // stdin stays a pipe: when this worker dies, its end closes and the C process exits on the EOF.
  const proc: ChildProcess = spawn(ref.path, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let port: number;
  try {
    port = await new Promise<number>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error(`${binary} did not say it was listening within 5 s`)), 5000);
      proc.once('error', (e) => {
        clearTimeout(timer);
        rej(e);
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`${binary} exited with code ${code} before listening`));
      });
      proc.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening (\d+)\n/.exec(out);
        if (m) {
          clearTimeout(timer);
          res(Number(m[1]));
        }
      });
    });
  } catch (err) {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const read = (): Record<(typeof FIELDS)[number], number> => {
    const b = readFileSync(file);
    const out = {} as Record<(typeof FIELDS)[number], number>;
    FIELDS.forEach((k, i) => (out[k] = b.length >= 8 * (i + 1) ? Number(b.readBigUInt64LE(8 * i)) : 0));
    return out;
  };
  const limits: EffectiveLimits = { maxMessageBytes: null, idleTimeoutMs: null, backlog: config.limits.backlog, pingIntervalMs: null, maxQueuedBytes: null };
  const exited = new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
  // The C program serves; this worker only relays. If it ends before close() asks it to, the
  // worker ends too, saying why: the runner watches the worker, and a step must not read the
  // dead program's last counters and the wrapper's memory as the server's.
  let closing = false;
  proc.once('exit', (code, signal) => {
    if (closing) return;
    process.stderr.write(`${ref.name}: ${binary} (pid ${proc.pid}) exited with ${signal ?? `code ${code}`} while serving\n`);
    rmSync(dir, { recursive: true, force: true });
    process.exit(REF_DIED_EXIT_CODE);
  });
  return {
    port,
    limits,
    servingPids: proc.pid === undefined ? [] : [proc.pid],
    stats(): ServerStats {
      const c = read();
      return {
        connectionsNow: c.active,
        connectionsTotal: c.accepted,
        messagesIn: null,
        messagesOut: null,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        protocolErrors: 0,
        extra: { 'ref.closed': c.closed, 'ref.errAccept': c.errAccept },
      };
    },
    async close(graceMs: number): Promise<DrainResult> {
      // SIGTERM: the C loop ends at once and closes every connection (echo holds nothing back).
      closing = true;
      proc.kill('SIGTERM');
      const bound = setTimeout(() => proc.kill('SIGKILL'), Math.max(100, graceMs));
      await exited;
      clearTimeout(bound);
      rmSync(dir, { recursive: true, force: true });
      // The C program has no drain: on SIGTERM it closes every connection at once, and drops the
      // bytes a slow reader had not taken yet, and its counters (accepted, active, closed) do not
      // say which connections had bytes pending. So it cannot tell what it cut: null, not a guess
      // (counting every connection open at SIGTERM would call idle ones cut).
      return { cut: null };
    },
  };
}
