// A child process holding one native client group (options as JSON in argv[2]): 'ramp' grows it
// and answers with the stats; 'stats' reports; 'close' closes everything and exits.
import { ClientGroup, type ClientGroupOptions } from '../../src/engine/client.js';

const group = new ClientGroup(JSON.parse(process.argv[2] ?? '{}') as ClientGroupOptions);
const plain = () => {
  const { latency, ...rest } = group.stats();
  return { ...rest, latencyCount: latency.count };
};
process.on('message', (m: { type: string; target?: number; rate?: number }) => {
  if (m.type === 'ramp') {
    group.ramp(m.target ?? 0, m.rate ?? 0);
    void group.rampDone(60000).then((r) => process.send?.({ type: 'ramped', timedOut: r.timedOut, stats: plain() }));
  } else if (m.type === 'stats') {
    process.send?.({ type: 'stats', stats: plain() });
  } else if (m.type === 'close') {
    group.close();
    process.exit(0);
  }
});
process.once('SIGTERM', () => process.exit(0));
process.send?.({ type: 'ready' });
