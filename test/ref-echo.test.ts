// The C reference echo servers as programs (native/ref/: c1m_ref_echo on epoll, c1m_ref_echo_uring
// on io_uring), run directly: a peer that stops reading while it keeps sending holds back only
// its own echo (the others are served meanwhile; the io_uring one pauses its receive at a bound
// of buffers and re-arms it), gets every byte back in order once it reads again, and the shared
// counters add up to what was sent; stdin EOF (the parent gone) and SIGTERM each end the program
// with exit 0 and every connection closed. C1M_REF_ECHO / C1M_REF_ECHO_URING point these tests at
// the sanitizer build.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REF_ECHO_PATH } from '../src/contenders/cref.js';
import { ioUringStatus, REF_ECHO_URING_PATH } from '../src/system/io-uring.js';
import { collect, connect } from './helpers/net.js';
import { eventually } from './helpers/processes.js';

interface Ref {
  proc: ChildProcess;
  port: number;
  /** accepted, active, closed, bytesIn, bytesOut, errAccept. */
  counters(): number[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  dir: string;
}

async function startRef(path: string): Promise<Ref> {
  const dir = mkdtempSync(join(tmpdir(), 'c1m-ref-test-'));
  const file = join(dir, 'counters');
  const proc = spawn(path, ['127.0.0.1', '0', '128', file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening (\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then(({ code }) => reject(new Error(`${path} exited with ${code} before listening: ${err}`)));
  });
  const counters = (): number[] => {
    const b = readFileSync(file);
    return [0, 1, 2, 3, 4, 5].map((i) => Number(b.readBigUInt64LE(8 * i)));
  };
  return { proc, port, counters, exited, stderr: () => err, dir };
}

async function stopRef(ref: Ref): Promise<void> {
  if (ref.proc.exitCode === null && ref.proc.signalCode === null) ref.proc.kill('SIGKILL');
  await ref.exited;
  rmSync(ref.dir, { recursive: true, force: true });
}

const REFS: ReadonlyArray<{ name: string; path: string; unavailable: () => string | null }> = [
  { name: 'c1m_ref_echo (epoll)', path: REF_ECHO_PATH, unavailable: () => (existsSync(REF_ECHO_PATH) ? null : `${REF_ECHO_PATH} is not built`) },
  {
    name: 'c1m_ref_echo_uring (io_uring)',
    path: REF_ECHO_URING_PATH,
    unavailable: () => {
      const s = ioUringStatus();
      return s.ok ? null : `${s.reason ?? ''}; fix: ${s.fix ?? ''}`;
    },
  },
];

for (const r of REFS) {
  describe(r.name, () => {
    it('a peer that stops reading holds back only its own echo, and gets every byte in order when it reads again', { timeout: 60_000 }, async (t) => {
      const why = r.unavailable();
      if (why !== null) return t.skip(why);
      const ref = await startRef(r.path);
      const sockets: net.Socket[] = [];
      try {
        const stuck = await connect(ref.port);
        sockets.push(stuck);
        stuck.pause();
        // Far more than the socket buffers of both directions, and than 64 of the io_uring
        // server's 4 KiB buffers: its receive is paused and re-armed many times over.
        const big = randomBytes(24 << 20);
        stuck.write(big);
        // Its echo backs up; meanwhile 20 other peers are served in full.
        const others = await Promise.all(
          Array.from({ length: 20 }, async () => {
            const s = await connect(ref.port);
            sockets.push(s);
            const payload = randomBytes(64 << 10);
            const back = collect(s, payload.length);
            s.write(payload);
            return { payload, back: await back };
          }),
        );
        for (const [i, o] of others.entries()) assert.ok(o.back.equals(o.payload), `peer ${i} got its own bytes back`);
        const echoed = collect(stuck, big.length);
        stuck.resume();
        const got = await echoed;
        assert.equal(got.length, big.length);
        assert.ok(got.equals(big), 'the stuck peer got every byte, in order');
        const total = big.length + 20 * (64 << 10);
        await eventually(() => ref.counters()[2] === 21, 10_000, 'every connection closed');
        const [accepted, active, closed, bytesIn, bytesOut, errAccept] = ref.counters();
        assert.deepEqual({ accepted, active, closed, bytesIn, bytesOut, errAccept }, { accepted: 21, active: 0, closed: 21, bytesIn: total, bytesOut: total, errAccept: 0 });
        ref.proc.kill('SIGTERM');
        assert.deepEqual(await ref.exited, { code: 0, signal: null }, `stderr: ${ref.stderr()}`);
      } finally {
        for (const s of sockets) s.destroy();
        await stopRef(ref);
      }
    });

    it('ends with exit 0 on stdin EOF and on SIGTERM, closing the connections it holds', { timeout: 30_000 }, async (t) => {
      const why = r.unavailable();
      if (why !== null) return t.skip(why);
      for (const how of ['stdin EOF', 'SIGTERM'] as const) {
        const ref = await startRef(r.path);
        const sockets: net.Socket[] = [];
        try {
          for (let i = 0; i < 5; i++) sockets.push(await connect(ref.port));
          const closed = sockets.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
          for (const s of sockets) s.on('error', () => {});
          await eventually(() => ref.counters()[1] === 5, 5000, 'five connections active');
          if (how === 'stdin EOF') ref.proc.stdin?.end();
          else ref.proc.kill('SIGTERM');
          assert.deepEqual(await ref.exited, { code: 0, signal: null }, `${how}: stderr ${ref.stderr()}`);
          await Promise.all(closed);
          const c = ref.counters();
          assert.deepEqual([c[0], c[1], c[2]], [5, 0, 5], `${how}: accepted, active, closed`);
        } finally {
          for (const s of sockets) s.destroy();
          await stopRef(ref);
        }
      }
    });
  });
}
