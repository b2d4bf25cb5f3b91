// Length-prefixed frames: every split point and every coalescing arrives as the same frames;
// a frame over the maximum closes only its own connection, counted as a protocol error.
import assert from 'node:assert/strict';
import { Engine, type EpollServer } from '../src/index.js';
import { backendTest, createServer } from './helpers/backends.js';
import { closed, collect, connect, fdCount, frames, sleep, until } from './helpers/net.js';

const SIZES = [0, 1, 2, 3, 4, 5, 17, 255, 256, 300];
const PAYLOADS = SIZES.map((n, i) => Buffer.alloc(n, (i * 37 + 11) & 0xff));
const STREAM = frames(PAYLOADS);

function frameServer(protocol: 'frame' | 'frame-echo', opts: { maxFrameBytes?: number } = {}): { server: EpollServer; got: Map<number, Buffer[]> } {
  const got = new Map<number, Buffer[]>();
  const server: EpollServer = createServer({ protocol, backlog: 2048, ...opts }, {
    onFrame(id, payload) {
      let list = got.get(id);
      if (!list) got.set(id, (list = []));
      list.push(Buffer.from(payload));
      server.writeFrame(id, payload);
    },
  });
  return { server, got };
}

for (const protocol of ['frame', 'frame-echo'] as const) {
  backendTest(`${protocol}: every split point of a frame sequence yields the same frames`, async () => {
    Engine.get();
    const before = fdCount();
    const { server, got } = frameServer(protocol);
    const { port } = server.listen();
    // One connection per split point; the two halves go out 15 ms apart so the server reads them
    // separately.
    const splits = Array.from({ length: STREAM.length + 1 }, (_, k) => k);
    for (let i = 0; i < splits.length; i += 300) {
      await Promise.all(splits.slice(i, i + 300).map(async (k) => {
        const s = await connect(port);
        const back = collect(s, STREAM.length);
        s.write(STREAM.subarray(0, k));
        await sleep(15);
        s.write(STREAM.subarray(k));
        const echoed = await back;
        assert.ok(echoed.equals(STREAM), `split at ${k}: echoed stream differs`);
        await closed(s);
      }));
    }
    if (protocol === 'frame') {
      assert.equal(got.size, splits.length);
      for (const list of got.values()) assert.deepEqual(list, PAYLOADS);
    }
    await until(() => server.counters()['active'] === 0, 'connections to close');
    await server.close();
    assert.equal(fdCount(), before);
  });

  backendTest(`${protocol}: byte-at-a-time, three-way splits and coalesced batches`, async () => {
    const { server, got } = frameServer(protocol);
    const { port } = server.listen();
    // Byte at a time.
    const s1 = await connect(port);
    const b1 = collect(s1, STREAM.length);
    for (let i = 0; i < STREAM.length; i += 7) {
      s1.write(STREAM.subarray(i, i + 7));
      await sleep(1);
    }
    assert.ok((await b1).equals(STREAM));
    // 200 sequences coalesced in one write, and one 1,000,000-byte frame trickling in.
    const many = Buffer.concat(Array.from({ length: 200 }, () => STREAM));
    const big = frames([Buffer.alloc(1_000_000, 9)]);
    const s2 = await connect(port);
    const b2 = collect(s2, many.length + big.length);
    s2.write(many);
    for (let i = 0; i < big.length; i += 50_000) {
      s2.write(big.subarray(i, i + 50_000));
      await sleep(2);
    }
    const all = await b2;
    assert.ok(all.subarray(0, many.length).equals(many));
    assert.ok(all.subarray(many.length).equals(big));
    if (protocol === 'frame') {
      const lists = [...got.values()];
      assert.equal(lists[1]!.length, 200 * PAYLOADS.length + 1);
      assert.equal(lists[1]!.at(-1)!.length, 1_000_000);
    }
    await Promise.all([closed(s1), closed(s2)]);
    await server.close();
  });

  backendTest(`${protocol}: an oversized frame closes only its connection, counted`, async () => {
    const { server } = frameServer(protocol, { maxFrameBytes: 1024 });
    const { port } = server.listen();
    const protoBefore = server.counters()['closedProtocol']!;
    const good = await connect(port);
    const bad = await connect(port);
    const goodBack = collect(good, STREAM.length * 2);
    good.write(STREAM);
    // A valid frame, then a header announcing 2,000 bytes.
    const badBack = collect(bad, 1 << 20, false);
    bad.write(Buffer.concat([frames([Buffer.from('ok')]), frames([Buffer.alloc(2000)])]));
    const badGot = await badBack;  // resolves on close
    assert.ok(badGot.equals(frames([Buffer.from('ok')])), 'frames before the bad one are still served');
    await until(() => server.counters()['closedProtocol'] === protoBefore + 1, 'the protocol error to be counted');
    good.write(STREAM);
    assert.ok((await goodBack).equals(Buffer.concat([STREAM, STREAM])), 'the other connection keeps being served');
    await closed(good);
    await server.close();
  });
}
