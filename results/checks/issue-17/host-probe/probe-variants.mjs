const small = new Uint32Array(1 << 16);
function alu(n) { let x = 2463534242, acc = 0; const m = small.length - 1;
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; const j = x & m; small[j] = (small[j] + i) >>> 0; acc = (acc + small[(j * 7) & m]) >>> 0; } return acc; }
// 64 MiB random cycle for pointer chasing
const N = 1 << 24; const next = new Uint32Array(N);
{ const perm = new Uint32Array(N); for (let i = 0; i < N; i++) perm[i] = i; let s = 12345;
  for (let i = N - 1; i > 0; i--) { s = (s * 1103515245 + 12345) >>> 0; const j = s % (i + 1); const t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
  for (let i = 0; i < N; i++) next[perm[i]] = perm[(i + 1) % N]; }
let p = 0;
function mem(n) { let q = p; for (let i = 0; i < n; i++) q = next[q]; p = q; return q; }
function js(n) { const m = new Map(); const arr = []; for (let i = 0; i < n; i++) { const o = { id: i, name: 'k' + i, v: [i, i * 2] }; m.set(o.name, o); arr.push(o); } return JSON.stringify(arr).length + m.size; }
const fns = { alu: () => alu(50000), mem: () => mem(3000), js: () => js(400) };
let sink = 0;
for (let k = 0; k < 30; k++) for (const f of Object.values(fns)) sink ^= f();
function time(f) { const t0 = process.hrtime.bigint(); const c = process.cpuUsage(); sink ^= f(); const d = process.cpuUsage(c); const w = Number(process.hrtime.bigint() - t0) / 1000; return Math.min(w, d.user + d.system); }
const secs = Number(process.argv[2] ?? 60); const t0 = Date.now(); const rows = [];
while (Date.now() - t0 < secs * 1000) { const r = { t: Date.now() - t0 }; for (const [k, f] of Object.entries(fns)) r[k] = time(f); rows.push(r); await new Promise((res) => setTimeout(res, 50)); }
const B = 2000; const buckets = new Map();
for (const r of rows) { const b = Math.floor(r.t / B); (buckets.get(b) ?? buckets.set(b, []).get(b)).push(r); }
const series = { alu: [], mem: [], js: [] };
for (const [b, rs] of buckets) { const line = [String(b * 2).padStart(3)]; for (const k of Object.keys(fns)) { const m = rs.reduce((a, r) => a + r[k], 0) / rs.length; series[k].push(m); line.push(`${k} ${m.toFixed(0).padStart(5)}`); } console.log(line.join('  ')); }
const mins = {}; for (const k of Object.keys(fns)) mins[k] = Math.min(...rows.map((r) => r[k]));
const corr = (a, b) => { const ma = a.reduce((x, y) => x + y) / a.length, mb = b.reduce((x, y) => x + y) / b.length; let sab = 0, saa = 0, sbb = 0; for (let i = 0; i < a.length; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; } return sab / Math.sqrt(saa * sbb); };
for (const k of Object.keys(fns)) { const s = series[k]; console.log(k, 'fastest', mins[k].toFixed(0), 'bucket means/fastest', (Math.min(...s) / mins[k]).toFixed(2), '–', (Math.max(...s) / mins[k]).toFixed(2)); }
console.log('corr alu-mem', corr(series.alu, series.mem).toFixed(2), 'alu-js', corr(series.alu, series.js).toFixed(2), 'mem-js', corr(series.mem, series.js).toFixed(2), sink & 1);
