import net from 'node:net';
const [port, everyMs, seconds] = process.argv.slice(2).map(Number);
const c = net.connect(port, '127.0.0.1', () => {
  const t = setInterval(() => c.write('x'.repeat(64)), everyMs);
  setTimeout(() => { clearInterval(t); c.end(); }, seconds * 1000);
});
c.resume();
