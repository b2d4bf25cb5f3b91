// The runner's probe (alu work, lesser of wall and CPU time) every 100 ms, in alternating 4 s
// blocks: idle, then under an h2load load against a c1m contender (`c1m serve … --protocol
// http-hello`): keep-alive at a fixed rate, or with rate 0 pipelined 16 deep with no limit.
// Usage: node probe-under-load.mjs <port> <requests/s, 0 = saturate> <cycles>
import { spawn } from 'node:child_process';
const port = Number(process.argv[2]); const rate = Number(process.argv[3] ?? 20000); const cycles = Number(process.argv[4] ?? 6);
const small = new Uint32Array(1 << 16);
function alu(n) { let x = 2463534242, acc = 0; const m = small.length - 1; for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; const j = x & m; small[j] = (small[j] + i) >>> 0; acc = (acc + small[(j * 7) & m]) >>> 0; } return acc; }
for (let k = 0; k < 30; k++) alu(50000);
function probe() { const t0 = process.hrtime.bigint(); const c = process.cpuUsage(); alu(50000); const d = process.cpuUsage(c); return Math.min(Number(process.hrtime.bigint() - t0) / 1000, d.user + d.system); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function block(ms) { const out = []; const end = Date.now() + ms; while (Date.now() < end) { out.push(probe()); await sleep(100); } return out.reduce((a, b) => a + b, 0) / out.length; }
const rows = [];
for (let c = 0; c < cycles; c++) {
  const idle = await block(4000);
  const shape = rate > 0 ? ['-m', '1', '--rps', String(rate / 50)] : ['-m', '16'];
  const h = spawn('h2load', ['--h1', '-c', '50', ...shape, '-D', '5', `http://127.0.0.1:${port}/`], { stdio: 'ignore' });
  await sleep(500);
  const loaded = await block(4000);
  await new Promise((r) => h.on('exit', r));
  rows.push([idle, loaded]); console.log(`cycle ${c}: idle ${idle.toFixed(0)} µs, loaded ${loaded.toFixed(0)} µs, loaded/idle ${(loaded / idle).toFixed(2)}`);
}
const r = rows.map(([a, b]) => b / a).sort((x, y) => x - y);
console.log('loaded/idle median', r[r.length >> 1].toFixed(2), 'range', r[0].toFixed(2), '–', r[r.length - 1].toFixed(2));
