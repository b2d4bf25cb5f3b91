// Process and descriptor bookkeeping for suites that start servers: nothing may outlive a test.

import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';

/** True while pid exists (a zombie counts; the parent reaps its children on 'exit'). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits until none of pids exists; returns those still alive after timeoutMs. */
export async function waitGone(pids: readonly number[], timeoutMs = 2000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(isAlive);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Open file descriptors of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Polls until openFds() is at most limit; returns the last count. */
export async function fdsSettle(limit: number, timeoutMs = 3000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = openFds();
    if (n <= limit || Date.now() >= deadline) return n;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function listenOn(host: string, port: number): Promise<net.Server | null> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(null));
    s.listen({ host, port, exclusive: true }, () => resolve(s));
  });
}

function close(s: net.Server): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

/** The kernel's ephemeral port range (outgoing connections take their local ports from it). */
export function ephemeralPorts(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && lo > 0) return [lo, hi];
  } catch {
    // Not Linux-like; fall through to the usual default.
  }
  return [32768, 60999];
}

/**
 * A port p such that p .. p + count - 1 were all free a moment ago on host. Candidates come
 * from below the ephemeral range: a port inside it may be taken at any moment by the local
 * end of some outgoing connection.
 */
export async function freePortRun(host: string, count: number): Promise<number> {
  const [ephemeralLow] = ephemeralPorts();
  const low = 10_000;
  const high = Math.max(low + 1000, ephemeralLow) - count;
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low));
    const held: net.Server[] = [];
    let ok = true;
    for (let i = 0; ok && i < count; i++) {
      const s = await listenOn(host, base + i);
      if (s === null) ok = false;
      else held.push(s);
    }
    await Promise.all(held.map(close));
    if (ok) return base;
  }
  throw new Error(`no run of ${count} free ports found on ${host}`);
}

/** Polls fn until it returns true; throws with what after timeoutMs. */
export async function eventually(fn: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() >= deadline) throw new Error(`${what}: not true after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
