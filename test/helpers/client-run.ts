// A child process that runs one native client group from start to end on its own and exits by
// itself: argv[2] is JSON { group: ClientGroupOptions, connections, mode, rate?, ms }. It ramps,
// runs the load for `ms` (measured from reset()), stops, sends its stats, closes the group and
// lets the event loop end: a process that does not exit means the connector still holds
// something open (a count went wrong), which is what the tests below look for.
import { ClientGroup, type ClientGroupOptions, type ClientLoadMode } from '../../src/engine/client.js';

interface Plan {
  group: ClientGroupOptions;
  connections: number;
  mode: ClientLoadMode;
  rate?: number;
  ms: number;
}

const plan = JSON.parse(process.argv[2] ?? '{}') as Plan;
const group = new ClientGroup(plan.group);
process.send?.({ type: 'ready' });
group.ramp(plan.connections, 0);
const ramp = await group.rampDone(20000);
group.run(plan.mode, plan.rate ?? 0);
group.reset();
await new Promise((r) => setTimeout(r, plan.ms));
group.stop();
const { latency, ...rest } = group.stats();
process.send?.({ type: 'done', ramp: { established: ramp.stats.established, timedOut: ramp.timedOut }, stats: rest, latency: { count: latency.count, p50: latency.valueAtPercentile(50), max: latency.max } });
group.close();
// No process.exit(): the process must end because nothing is left open.
process.disconnect?.();
