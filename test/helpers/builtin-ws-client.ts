// Child process for engine-ws.test.ts: Node's built-in WebSocket (undici, behind
// --experimental-websocket in Node 20) as an independent client. It echoes text and binary
// messages of the given sizes through ws://127.0.0.1:PORT/, closes with 4000 "bye", then (when
// asked) opens /close-me, which the server closes with 4001 "x", and prints one JSON line.
import { createHash } from 'node:crypto';
import { text } from './ws.js';

const port = Number(process.argv[2]);
const sizes = (process.argv[3] ?? '').split(',').filter((s) => s !== '').map(Number);
const serverCloses = process.argv[4] === 'close-me';


function bytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

const digest = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

function open(path: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`WebSocket ${path}: error before open`));
  });
}

function next(ws: WebSocket): Promise<string | ArrayBuffer> {
  return new Promise((resolve, reject) => {
    ws.onmessage = (e: MessageEvent) => resolve(e.data as string | ArrayBuffer);
    ws.onclose = (e: { code: number; reason: string; wasClean: boolean }) => reject(new Error(`closed (${e.code}) while waiting for a message`));
  });
}

function closedWith(ws: WebSocket): Promise<{ code: number; reason: string; wasClean: boolean }> {
  return new Promise((resolve) => {
    ws.onclose = (e: { code: number; reason: string; wasClean: boolean }) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
  });
}

async function main(): Promise<void> {
  const ws = await open('/');
  const echoes: { size: number; kind: string; ok: boolean }[] = [];
  for (const size of sizes) {
    const t = text(size);
    ws.send(t);
    const gotT = await next(ws);
    echoes.push({ size, kind: 'text', ok: typeof gotT === 'string' && gotT === t });
    const b = bytes(size);
    ws.send(b);
    const gotB = await next(ws);
    echoes.push({ size, kind: 'binary', ok: gotB instanceof ArrayBuffer && digest(new Uint8Array(gotB)) === digest(b) });
  }
  const closing = closedWith(ws);
  ws.close(4000, 'bye');
  const clientClose = await closing;
  let serverClose = null;
  if (serverCloses) {
    const ws2 = await open('/close-me');
    serverClose = await closedWith(ws2);
  }
  process.stdout.write(`${JSON.stringify({ ok: true, echoes, clientClose, serverClose })}\n`);
}

main().catch((e: unknown) => {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String(e) })}\n`);
  process.exitCode = 1;
});
