// The connector over TLS (issue #20): every connection does its handshake before its protocol's
// first bytes and counts as established when it is done; against Node's own TLS server and against
// the engine's; full and resumed handshakes counted on both sides; a peer that does not speak TLS
// fails every handshake, counted with OpenSSL's reason.
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { test } from 'node:test';
import { ClientGroup, type ClientGroupOptions } from '../src/engine/client.js';
import { createServer, Engine, type EpollServer } from '../src/engine/index.js';
import { fdCount, sleep, until } from './helpers/net.js';
import { testCert } from './helpers/tls-cert.js';

const cert = testCert();
const HOST = '127.0.0.1';

async function fdsBefore(): Promise<number> {
  Engine.get();
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, HOST, r));
  await new Promise<void>((r) => probe.close(() => r()));
  return fdCount();
}

/** A node:tls echo server counting plaintext bytes each way and resumed handshakes. */
async function nodeTlsEcho(o: tls.TlsOptions = {}): Promise<{ server: tls.Server; port: number; bytesIn: () => number; resumed: () => number; secure: () => number }> {
  let bytesIn = 0, resumed = 0, secure = 0;
  const server = tls.createServer({ key: cert.keyPem, cert: cert.certPem, ...o }, (s) => {
    secure++;
    if (s.isSessionReused()) resumed++;
    s.on('data', (d: Buffer) => {
      bytesIn += d.length;
      s.write(d);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  const port = (server.address() as net.AddressInfo).port;
  return { server, port, bytesIn: () => bytesIn, resumed: () => resumed, secure: () => secure };
}

function closeServer(s: net.Server): Promise<void> {
  return new Promise((r) => s.close(() => r()));
}

function group(o: Omit<ClientGroupOptions, 'targets'> & { port: number }): ClientGroup {
  const { port, ...rest } = o;
  return new ClientGroup({ ...rest, targets: [{ host: HOST, port }] });
}

test('stream echo over TLS to a node:tls server: 20 handshakes, then bytes and messages match on both sides', async () => {
  const fds = await fdsBefore();
  const node = await nodeTlsEcho();
  const g = group({ protocol: 'stream', port: node.port, messageBytes: 64, depth: 4, tls: { resume: false } });
  try {
    g.ramp(20, 0);
    const { stats, timedOut } = await g.rampDone(10000);
    assert.equal(timedOut, false);
    assert.equal(stats.established, 20, JSON.stringify(stats.tlsErrors));
    assert.equal(stats.tlsHandshakes, 20);
    assert.equal(stats.tlsResumed, 0);
    assert.equal(stats.tlsHandshakeFailed, 0);
    // The client is done at its Finished; the server's 'secureConnection' comes when it reads it.
    await until(() => node.secure() === 20, `the server to see 20 handshakes (${node.secure()})`);
    g.reset();
    g.run('closed');
    await sleep(500);
    g.stop();
    // Answers still in flight arrive (not counted as ops, but as bytes).
    await until(() => node.bytesIn() === g.counts().bytesOut && g.counts().bytesIn === node.bytesIn(),
      `every byte at the server and back (${node.bytesIn()} and ${g.counts().bytesIn} of ${g.counts().bytesOut})`);
    const s = g.stats();
    assert.ok(s.ops > 100, `${s.ops} answers`);
    assert.equal(s.errProtocol + s.errRead + s.errWrite + s.errTimeout, 0);
    assert.equal(s.bytesOut, s.sent * 64);
    assert.equal(node.bytesIn(), s.bytesOut, 'the server received every plaintext byte sent');
    assert.equal(s.latency.count, s.answered + s.unanswered, "every message of the window: answered, or in flight at the stop");
  } finally {
    g.close();
    await closeServer(node.server);
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (${fdCount()})`);
});

test('resume against a node:tls server: the first handshake is full, the next 9 resume its ticket (counted on both sides)', async () => {
  const fds = await fdsBefore();
  const node = await nodeTlsEcho();
  const g = group({ protocol: 'stream', port: node.port, tls: { resume: true, servername: 'localhost' } });
  try {
    g.ramp(1, 0);
    await g.rampDone(5000);
    // TLS 1.3 tickets come after the handshake: the connection reads them as they arrive.
    await sleep(200);
    g.ramp(10, 0);
    const { stats } = await g.rampDone(10000);
    assert.equal(stats.established, 10);
    assert.equal(stats.tlsHandshakes, 1);
    assert.equal(stats.tlsResumed, 9);
    await until(() => node.secure() === 10, 'the server to see 10 handshakes');
    assert.equal(node.resumed(), 9);
  } finally {
    g.close();
    await closeServer(node.server);
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (${fdCount()})`);
});

/**
 * A TCP proxy to port that passes the client's bytes at once and, on each connection, the server's
 * first read at once and everything after it only after delayMs: a resumed TLS 1.3 handshake
 * (ServerHello to Finished in one flight) completes, its new tickets arrive late.
 */
async function lateTicketProxy(port: number, delayMs: number): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((c) => {
    const up = net.connect(port, HOST);
    let first = true;
    c.on('error', () => undefined);
    up.on('error', () => undefined);
    c.on('data', (d) => up.write(d));
    up.on('data', (d) => {
      if (first) {
        first = false;
        c.write(d);
      } else {
        setTimeout(() => c.writable && c.write(d), delayMs);
      }
    });
    c.on('close', () => up.destroy());
    up.on('close', () => setTimeout(() => c.destroy(), delayMs));
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

test('a session resumed by one connection stays the group\'s to offer until a newer ticket comes (OpenSSL drops a used TLS 1.3 session from its client cache)', async () => {
  const fds = await fdsBefore();
  const node = await nodeTlsEcho();
  const proxy = await lateTicketProxy(node.port, 1500);
  const g = group({ protocol: 'stream', port: proxy.port, tls: { resume: true, servername: 'localhost' } });
  try {
    // The first connection's handshake is full; its tickets come 1.5 s later.
    g.ramp(1, 0);
    await g.rampDone(5000);
    await until(() => g.stats().tlsHandshakes === 1, 'the first handshake');
    await sleep(1800);
    // The second resumes that ticket and is done at once; its own tickets are 1.5 s away.
    g.ramp(2, 0);
    await g.rampDone(5000);
    await sleep(100);
    // The third starts meanwhile: it offers the same session and resumes too (before, OpenSSL had
    // marked it used once the second finished, and the third's handshake was full).
    g.ramp(3, 0);
    const { stats } = await g.rampDone(5000);
    assert.equal(stats.established, 3);
    assert.equal(stats.tlsHandshakes, 1, `full handshakes: ${stats.tlsHandshakes}`);
    assert.equal(stats.tlsResumed, 2, `resumed: ${stats.tlsResumed}`);
    await until(() => node.resumed() === 2, `the server to resume 2 (${node.resumed()})`);
  } finally {
    g.close();
    await closeServer(proxy.server);
    await closeServer(node.server);
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (${fdCount()})`);
});

/**
 * A TCP proxy to port that passes the client's bytes, the server's handshake flight and nothing
 * after the client's Finished, and closes both sides of every connection at closeAll(): as a
 * server that timed the handshake out before it read the client's Finished looks to a TLS 1.3
 * client, which is established at its own Finished.
 */
async function unfinishedProxy(port: number): Promise<{ server: net.Server; port: number; closeAll(): void }> {
  const pairs: net.Socket[] = [];
  const server = net.createServer((c) => {
    const up = net.connect(port, HOST);
    c.on('error', () => undefined);
    up.on('error', () => undefined);
    // The client's first write is its ClientHello, its second its Finished: the server's flight
    // goes through until then, nothing of the server's after it.
    let clientWrites = 0;
    c.on('data', (d) => {
      clientWrites++;
      up.write(d);
    });
    up.on('data', (d) => {
      if (clientWrites < 2) c.write(d);
    });
    pairs.push(c, up);
  });
  await new Promise<void>((r) => server.listen(0, HOST, r));
  return { server, port: (server.address() as net.AddressInfo).port, closeAll: () => { for (const s of pairs) s.destroy(); } };
}

test('a server that closes TLS connections established only on the client\'s side (nothing heard after the handshake) halves the connect window', async () => {
  const fds = await fdsBefore();
  const node = await nodeTlsEcho();
  const proxy = await unfinishedProxy(node.port);
  const g = group({ protocol: 'stream', port: proxy.port, tls: { resume: true, servername: 'localhost' } });
  try {
    g.ramp(100, 0);
    assert.equal(g.stats().pending, 64, 'the first window is 64 connects');
    const { stats } = await g.rampDone(10_000);
    assert.equal(stats.established, 100, 'each finished its handshake on its own side');
    assert.equal(stats.tlsHandshakes, 100);
    assert.equal(stats.window, 164, '64, grown by one per connection established');
    // The server ends them all, having answered none: the window halves, once (a burst within
    // a second).
    proxy.closeAll();
    await until(() => g.stats().active === 0, `every connection closed by the server (${g.stats().active} open)`);
    assert.equal(g.stats().peerClosed + g.stats().errRead, 100);
    assert.equal(g.stats().window, 82);
  } finally {
    g.close();
    proxy.closeAll();
    await closeServer(proxy.server);
    await closeServer(node.server);
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (${fdCount()})`);
});

test('without resume nothing is offered: every handshake is full', async () => {
  const node = await nodeTlsEcho();
  const g = group({ protocol: 'stream', port: node.port, tls: { resume: false } });
  try {
    g.ramp(1, 0);
    await g.rampDone(5000);
    await sleep(200);
    g.ramp(5, 0);
    const { stats } = await g.rampDone(10000);
    assert.equal(stats.tlsHandshakes, 5);
    assert.equal(stats.tlsResumed, 0);
    assert.equal(node.resumed(), 0);
  } finally {
    g.close();
    await closeServer(node.server);
  }
});

function engineTls(o: Parameters<typeof createServer>[0], tickets = true): EpollServer {
  return createServer({ ...o, tls: { cert: cert.certPem, key: cert.keyPem, tickets } });
}

async function loadAndCount(g: ClientGroup, ms: number): Promise<ReturnType<ClientGroup['stats']>> {
  g.reset();
  g.run('closed');
  await sleep(ms);
  g.stop();
  await sleep(100);  // the last answers arrive (not counted as ops: the window ended)
  return g.stats();
}

test('against the engine\'s own TLS server: frame, http and WebSocket echo, message counts match the server\'s', async () => {
  const fds = await fdsBefore();
  const frame = engineTls({ protocol: 'frame-echo' });
  const http = engineTls({ protocol: 'http-static' });
  const ws = engineTls({ protocol: 'http-static', websocket: 'echo' });
  const cases: [EpollServer, ClientGroupOptions['protocol'], string][] = [[frame, 'frame', 'framesIn'], [http, 'http', 'httpRequests'], [ws, 'ws-echo', 'wsMessagesIn']];
  try {
    for (const [server, protocol, counter] of cases) {
      const { port } = server.listen();
      const before = server.counters();
      const g = group({ protocol, port, messageBytes: 100, depth: 2, tls: { resume: false } });
      try {
        g.ramp(8, 0);
        const { stats } = await g.rampDone(10000);
        assert.equal(stats.established, 8, `${protocol}: ${JSON.stringify(stats.tlsErrors)} ${JSON.stringify(stats.connectErrors)}`);
        assert.equal(stats.tlsHandshakes, 8);
        const s = await loadAndCount(g, 400);
        assert.ok(s.ops > 50, `${protocol}: ${s.ops} answers`);
        assert.equal(s.errProtocol, 0, protocol);
        // Everything the group sent reached the server as a whole message, and nothing else did.
        await until(() => server.counters()[counter]! - before[counter]! === s.sent, `${protocol}: server ${counter} ${server.counters()[counter]! - before[counter]!} of ${s.sent}`);
        assert.equal(server.counters()['tlsHandshakes']! - before['tlsHandshakes']!, 8);
      } finally {
        g.close();
      }
      await until(() => server.counters()['active'] === 0, `${protocol}: server connections closed`);
    }
  } finally {
    for (const [server] of cases) await server.close({ force: true });
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (${fdCount()})`);
});

test('ws-broadcast over TLS against the engine: the publisher\'s messages reach every member, each over its own TLS connection', async () => {
  const server = engineTls({ protocol: 'http-static', websocket: 'broadcast' });
  const { port } = server.listen();
  const before = server.counters();
  const g = group({ protocol: 'ws-broadcast', port, rooms: 1, publishers: 1, messageBytes: 32, tls: { resume: false } });
  try {
    g.ramp(4, 0);
    const { stats } = await g.rampDone(10000);
    assert.equal(stats.established, 4, JSON.stringify(stats.tlsErrors));
    assert.equal(stats.tlsHandshakes, 4);
    await until(() => server.topicSize('r0') === 4, 'four members in the room');
    g.reset();
    g.run('open', 200);
    await sleep(500);
    g.stop();
    await sleep(100);
    const s = g.stats();
    assert.equal(s.errProtocol, 0);
    // Every message the publisher sent went to the 4 members; each member counted what it got.
    assert.ok(s.sent > 50, `${s.sent} published`);
    await until(() => server.counters()['deliveries']! - before['deliveries']! === 4 * s.sent, `deliveries ${server.counters()['deliveries']! - before['deliveries']!} of ${4 * s.sent}`);
    assert.ok(s.ops >= 3 * s.sent, `${s.ops} receptions of ${s.sent} messages`);
  } finally {
    g.close();
    await server.close({ force: true });
  }
});

for (const tickets of [true, false]) {
  test(`resume against the engine's TLS server with tickets ${tickets ? 'on: resumed on both sides' : 'off: nothing resumes'}`, async () => {
    const server = engineTls({ protocol: 'echo' }, tickets);
    const { port } = server.listen();
    const before = server.counters();
    const g = group({ protocol: 'stream', port, tls: { resume: true } });
    try {
      g.ramp(1, 0);
      await g.rampDone(5000);
      await sleep(200);
      g.ramp(6, 0);
      const { stats } = await g.rampDone(10000);
      assert.equal(stats.established, 6);
      assert.equal(stats.tlsResumed, tickets ? 5 : 0);
      assert.equal(stats.tlsHandshakes, tickets ? 1 : 6);
      await until(() => server.counters()['tlsHandshakes']! + server.counters()['tlsResumed']! - before['tlsHandshakes']! - before['tlsResumed']! === 6, 'the server\'s handshakes');
      assert.equal(server.counters()['tlsResumed']! - before['tlsResumed']!, tickets ? 5 : 0);
    } finally {
      g.close();
      await server.close({ force: true });
    }
  });
}

test('a peer that does not speak TLS: every handshake fails, counted with OpenSSL\'s reason, none established', async () => {
  const fds = await fdsBefore();
  // A plain TCP echo: the ClientHello comes back, and a ClientHello is no answer to a client.
  const plain = net.createServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => plain.listen(0, HOST, r));
  const port = (plain.address() as net.AddressInfo).port;
  const g = group({ protocol: 'stream', port, tls: { resume: false } });
  try {
    g.ramp(5, 0);
    const { stats, timedOut } = await g.rampDone(10000);
    assert.equal(timedOut, false);
    assert.equal(stats.established, 0);
    assert.equal(stats.failed, 5);
    assert.equal(stats.tlsHandshakeFailed, 5);
    const reasons = Object.entries(stats.tlsErrors);
    assert.equal(reasons.reduce((n, [, k]) => n + k, 0), 5, JSON.stringify(stats.tlsErrors));
    assert.ok(reasons.every(([why]) => why.length > 3), JSON.stringify(stats.tlsErrors));
  } finally {
    g.close();
    await closeServer(plain);
  }
  await until(() => fdCount() === fds, `fds back to ${fds} (${fdCount()})`);
});

test('a TLS server that never answers: the handshake times out at handshakeTimeoutMs, counted as failed', async () => {
  // It reads (so it sees the connector's FIN) and never writes.
  const silent = net.createServer((s) => {
    s.on('error', () => undefined);
    s.resume();
  });
  await new Promise<void>((r) => silent.listen(0, HOST, r));
  const port = (silent.address() as net.AddressInfo).port;
  const g = group({ protocol: 'stream', port, handshakeTimeoutMs: 300, tls: { resume: false } });
  try {
    const t0 = Date.now();
    g.ramp(3, 0);
    const { stats } = await g.rampDone(5000);
    assert.ok(Date.now() - t0 >= 250);
    assert.equal(stats.established, 0);
    assert.equal(stats.errTimeout, 3);
    assert.equal(stats.tlsHandshakeFailed, 3);
  } finally {
    g.close();
    await closeServer(silent);
  }
});

test('options: tls is { resume, servername? }, checked before native code runs', () => {
  const base = { protocol: 'stream' as const, targets: [{ host: HOST, port: 9 }] };
  assert.throws(() => new ClientGroup({ ...base, tls: { resume: 'yes' as unknown as boolean } }), /tls\.resume must be a boolean/);
  assert.throws(() => new ClientGroup({ ...base, tls: { resume: true, servername: '' } }), /tls\.servername/);
  assert.throws(() => new ClientGroup({ ...base, tls: { resume: true, extra: 1 } as never }), /unknown option "tls\.extra"/);
  const native = Engine.get().native as unknown as { clientGroup(o: Record<string, unknown>): number };
  assert.throws(() => native.clientGroup({ proto: 0, targets: [[HOST, 9]], tls: { resume: 1 } }), /tls\.resume must be a boolean/);
  new ClientGroup({ ...base, tls: { resume: true, servername: 'example.test' } }).close();
});

for (const resume of [true, false]) {
  test(`churn over TLS against the engine, resume ${resume ? 'on: each connection waits for its own ticket, so the next handshakes resume' : 'off: every handshake full'}; counts match on both sides, no fd left`, async () => {
    const fds = await fdsBefore();
    const server = engineTls({ protocol: 'echo' });
    const { port } = server.listen();
    const before = server.counters();
    const g = group({ protocol: 'stream', port, tls: { resume } });
    try {
      g.reset();
      g.run('churn', 200);
      await sleep(1000);
      g.stop();
      await until(() => g.counts().active + g.counts().pending === 0, 'churn connections closed (a ticket waits at most 1 s)', 5000);
      const s = g.stats();
      // How many handshakes a second fit is a figure for the scenarios (it fell to 136 of 200
      // under the sanitizers on a busy host); this test asks that the counts agree.
      assert.ok(s.ops > 0, `churn made connections (${s.ops} in 1 s at 200/s)`);
      assert.equal(s.tlsHandshakeFailed, 0);
      assert.equal(s.tlsHandshakes + s.tlsResumed, s.established, 'every established connection finished one handshake');
      if (resume) {
        // Only connections that start before the group's first ticket has come are full.
        assert.ok(s.tlsResumed >= s.established * 0.9, `${s.tlsResumed} of ${s.established} resumed`);
      } else {
        assert.equal(s.tlsResumed, 0);
      }
      const d = (k: string): number => server.counters()[k]! - before[k]!;
      await until(() => d('tlsHandshakes') + d('tlsResumed') === s.established, `the server's handshakes (${d('tlsHandshakes') + d('tlsResumed')}) to match the client's (${s.established})`, 5000);
      assert.equal(d('tlsResumed'), s.tlsResumed, 'the server resumed exactly the handshakes the client did');
    } finally {
      g.close();
      await server.close({ force: true });
    }
    await until(() => fdCount() === fds, `fds back to ${fds} (${fdCount()})`);
  });
}
