// The result file, defined once. From this TypeBox definition come the TypeScript types every
// layer uses (Static<…> below), the JSON Schema document committed as
// results/schema/c1m.result-1.schema.json (`npm run schema` writes it; a test fails when it is
// stale) and the validator (src/results/validate.ts compiles the same document with ajv).
//
// The contract is /work/shared/RESULTS.md; results/README.md documents the additions (`note`,
// `run.timeline`, `run.drain`, `summary.fit`) and src/runner/README.md the runner's own fields,
// which are described here too, optional, so a file without them is still a result. Every
// measured number is `number | null` and may be absent: an unmeasured figure is never 0. Objects
// may carry fields this version does not know; readers ignore them.
//
// Two annotations of our own carry the validator's wording, so a message reads
// "runs[2].steps[0].connections must be a non-negative number, got "abc"":
//   mustBe     what a value must be ("a non-negative number");
//   violation  the rest of a sentence about a rule between fields ("has ok: false but …").

import { Type, type SchemaOptions, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { conformanceSummarySchema } from '../conform/summary.js';

export const RESULT_SCHEMA = 'c1m.result/1';

/** Where the generated JSON Schema document is committed, from the repository's root. */
export const SCHEMA_FILE = 'results/schema/c1m.result-1.schema.json';

const defs: Record<string, TSchema> = {};

/** Registers a named definition ($defs) and returns a maker of references to it. */
function def<T extends TSchema>(name: string, schema: T): (options?: SchemaOptions) => TUnsafe<Static<T>> {
  defs[name] = schema;
  return (options = {}) => Type.Unsafe<Static<T>>({ ...options, $ref: `#/$defs/${name}` });
}

const orNull = <T extends TSchema>(schema: T, mustBe: string, options: SchemaOptions = {}) =>
  Type.Union([schema, Type.Null()], { ...options, mustBe });
const opt = Type.Optional;

// ---- vocabulary ---------------------------------------------------------------------------

const name = def('name', Type.String({ minLength: 1, mustBe: 'a non-empty string' }));
const optionalName = def('optionalName', orNull(Type.String({ minLength: 1 }), 'a non-empty string'));
const dateTime = def(
  'dateTime',
  Type.String({ format: 'date-time', mustBe: 'an ISO-8601 date-time such as "2025-01-31T12:00:00Z"' }),
);
const measured = def(
  'measured',
  orNull(Type.Number({ minimum: 0 }), 'a non-negative number', { description: 'A measured figure; null (or absent) when not measured.' }),
);
const signed = def(
  'signed',
  orNull(Type.Number(), 'a number', { description: 'A measured difference that may be negative; null (or absent) when not measured.' }),
);
const count = def('count', Type.Integer({ minimum: 0, mustBe: 'a non-negative integer' }));
const flag = def('flag', orNull(Type.Boolean(), 'true, false or null'));
const object = <V>(ref: (o?: SchemaOptions) => TUnsafe<V>, description?: string) =>
  Type.Union([ref(), Type.Null()], { mustBe: 'an object', ...(description ? { description } : {}) });
const array = <T extends TSchema>(items: T, options: SchemaOptions = {}) => Type.Array(items, { mustBe: 'an array', ...options });
const obj = <P extends Record<string, TSchema>>(properties: P, options: SchemaOptions = {}) =>
  Type.Object(properties, { mustBe: 'an object', ...options });

// ---- env ----------------------------------------------------------------------------------

const env = def(
  'env',
  obj({
    node: opt(optionalName()),
    kernel: opt(optionalName()),
    cpus: opt(measured()),
    cpuModel: opt(optionalName()),
    memTotalBytes: opt(measured()),
    nofileSoft: opt(measured()),
    nofileHard: opt(measured()),
    sysctl: opt(
      orNull(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Null()], { mustBe: 'a string, a number or null' })), 'an object'),
    ),
    versions: opt(orNull(Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()], { mustBe: 'a string or null' })), 'an object')),
    git: opt(optionalName({ description: 'The commit the harness ran from, null outside a git checkout.' })),
    hostname: opt(optionalName()),
  }),
);

// ---- steps --------------------------------------------------------------------------------

const serverStats = def(
  'serverStats',
  obj({
    rssBytes: opt(measured()),
    pssBytes: opt(measured()),
    heapUsedBytes: opt(measured()),
    externalBytes: opt(measured()),
    cpuUserMs: opt(measured()),
    cpuSysMs: opt(measured()),
    cpuFrom: opt(
      Type.Union([Type.Literal('schedstat'), Type.Literal('stat'), Type.Null()], {
        mustBe: '"schedstat", "stat" or null',
        description:
          "Runner addition: where cpuUserMs + cpuSysMs come from. schedstat: every thread's nanosecond on-CPU time (/proc/<pid>/task/<tid>/schedstat), split as the clock ticks split it; stat: /proc/<pid>/stat's clock ticks (10 ms each). Absent in older files (stat).",
      }),
    ),
    rssAnonBytes: opt(measured({ description: 'Runner addition: RssAnon, all workers.' })),
    heapTotalBytes: opt(measured({ description: "Runner addition: V8's committed heap, all workers." })),
    fds: opt(measured({ description: "Runner addition: the contender's open fds, all workers." })),
    engineBytes: opt(measured({ description: "Runner addition: what the epoll engine holds by its own count (null for other contenders)." })),
  }),
);

const kernelStats = def(
  'kernelStats',
  obj({
    slabBytes: opt(measured()),
    sockstatMemPages: opt(measured()),
    tcpInUse: opt(measured()),
    tcpTw: opt(measured({ description: 'Runner addition: TIME_WAIT sockets, growth since run.kernelBaseline.' })),
    memUsedBytes: opt(signed({ description: "Runner addition: MemAvailable's drop since the run started (the whole machine)." })),
  }),
);

const throughput = def(
  'throughput',
  obj({ opsPerSec: opt(measured()), bytesPerSec: opt(measured()), opsPerServerCpuSec: opt(measured()) }),
);

/** The encoding name a stored histogram carries, so a reader knows what `counts` holds. */
export const HDR_ENCODING = 'HdrHistogram V2 compressed, base64';

const hdr = def(
  'hdr',
  obj(
    {
      encoding: Type.Literal(HDR_ENCODING, { mustBe: `"${HDR_ENCODING}"` }),
      counts: Type.String({ minLength: 1, mustBe: 'a non-empty string', description: "Every recorded value's bucket count, as HdrHistogram's encodeIntoCompressedBase64 writes it (its header carries lowest, highest and significant digits)." }),
      count: count({ description: 'Values recorded (the sum of the counts; values above highest are in overflow, counted at highest).' }),
      min: Type.Number({ minimum: 0, mustBe: 'a non-negative number', description: 'The exact smallest value (the encoding knows buckets only).' }),
      max: Type.Number({ minimum: 0, mustBe: 'a non-negative number', description: 'The exact largest value.' }),
      overflow: count({ description: 'Values above the layout\'s highest, recorded at highest.' }),
    },
    { description: "Runner addition: the step's complete latency histogram, so processes and repetitions merge by adding counts and any percentile can be read back." },
  ),
);

const latency = def(
  'latency',
  obj({ p50: opt(measured()), p90: opt(measured()), p99: opt(measured()), p999: opt(measured()), max: opt(measured()), hdr: opt(object(hdr)) }),
);

const syscalls = def(
  'syscalls',
  obj(
    {
      reads: opt(measured({ description: 'recv calls per operation, those that found nothing (EAGAIN) included.' })),
      writes: opt(measured({ description: 'send/writev calls per operation.' })),
      waits: opt(measured({ description: "The engine's own epoll_wait calls per operation (libuv's, around it, are loopWaits)." })),
      enters: opt(
        measured({
          description:
            'io_uring_enter calls per operation (the io_uring backend: one per round submits its sends and receives, which are then not syscalls and not in reads or writes; 0 on epoll).',
        }),
      ),
      loopWaits: opt(
        measured({
          description:
            "libuv's epoll_pwait calls per operation: one per turn of Node's loop and a second in each turn whose poll blocked, around the engine's own wait on epoll and the only wait on io_uring. Calls repeated after an interruption (EINTR, io_uring task work waking a blocked poll) are not counted: on io_uring a lower bound. Absent in files from before it was counted, whose total leaves it out.",
        }),
      ),
      total: opt(measured({ description: 'reads + writes + waits + enters + loopWaits (null when the engine did not count loopWaits).' })),
      ops: opt(measured({ description: 'The operations the counts were divided by: the step\'s ops/s over the same interval.' })),
      intervalMs: opt(measured({ description: 'How long the counters were watched, inside the measured window.' })),
    },
    {
      description:
        "Runner addition: the engine's own counts of its syscalls, read at the start of the measured window and again near its end, per operation of the load in that interval (engine contenders only).",
    },
  ),
);

const errors = def(
  'errors',
  obj({ connect: opt(measured()), read: opt(measured()), write: opt(measured()), timeout: opt(measured()), protocol: opt(measured()) }),
);

const groupStep = def(
  'groupStep',
  obj(
    {
      connections: opt(measured({ description: 'Connections the group held at the end of the window.' })),
      ops: opt(measured()),
      opsPerSec: opt(measured()),
      sent: opt(measured({ description: 'Messages the group sent in the window (ws-broadcast: publishes), when the driver counts them.' })),
      opsPerSent: opt(measured({ description: 'ops ÷ sent: in ws-broadcast, deliveries per publish.' })),
      peerClosed: opt(measured({ description: 'Connections the server closed on the group, as its peers noticed.' })),
      tls: opt(
        obj(
          {
            handshakes: opt(measured({ description: 'Full handshakes the group finished in the window.' })),
            resumed: opt(measured({ description: 'Handshakes that resumed a session the group offered.' })),
            failed: opt(measured({ description: 'Handshakes that failed (an alert, a close or timeout mid-handshake).' })),
          },
          { description: 'Over TLS, native driver: the group\'s own handshake counts, so a resumption claimed by a step is checked by the client even where the server counts nothing (uws).' },
        ),
      ),
      latencyUs: opt(object(latency)),
      errors: opt(object(errors)),
      driverCpuPct: opt(measured()),
      clientBound: opt(flag()),
    },
    { description: "Runner addition: one driver group's own figures in a step where groups ran a load." },
  ),
);

const reap = def(
  'reap',
  obj(
    {
      group: opt(name()),
      target: opt(measured({ description: "The group's connections when it went silent." })),
      closedByServer: opt(measured({ description: "How far the server's own connection count fell over the window (other closes included)." })),
      ms: opt(measured({ description: "ms until the server's count had fallen by target; null when it did not." })),
      closedSeenByDriver: opt(measured({ description: 'Closes the silent peers noticed themselves (a FIN or reset reached them).' })),
      pollMs: opt(measured()),
      samples: opt(array(Type.Array(Type.Number({ mustBe: 'a number' }), { mustBe: 'a pair [ms, connections]' }), { description: "The server's count every pollMs: [ms since silent, connections]." })),
      rssPeakBytes: opt(measured({ description: "The most resident memory the server's processes had at any poll of the window (queues included)." })),
    },
    { description: 'Runner addition: how a group that went silent was reaped by the server (heartbeats, idle timeouts, queue bounds).' },
  ),
);

const givenUp = def(
  'givenUp',
  obj(
    { dropped: opt(measured()), timedOut: opt(measured()), lost: opt(measured()), unanswered: opt(measured()) },
    {
      description:
        'Runner addition: messages of the window that got no answer, each in latencyUs at what it had waited: dropped (never sent in time), timedOut (answer overdue), lost (connection closed first), unanswered (open loop: in flight when the window ended).',
    },
  ),
);

const hostProbe = def(
  'hostProbe',
  obj(
    {
      meanUs: opt(measured({ description: "The probes' mean in µs, each the lesser of its wall time and the runner's CPU time over it: how fast the host ran over the window (lower is faster)." })),
      minUs: opt(measured({ description: 'The fastest probe of the window, µs.' })),
      samples: opt(measured({ description: 'Probes taken in the window.' })),
      everyMs: opt(measured({ description: 'How often the window was probed.' })),
      iterations: opt(measured({ description: "Iterations of the probe's fixed integer and cache work." })),
    },
    {
      description:
        "Runner addition: the host's own speed over the measured window, from a fixed piece of work the runner timed every everyMs. On a VM it swings with no steal time counted, and stretches the contenders' CPU-seconds (not all alike): two windows whose meanUs differ by 1.2× ran on hosts about 1.2× apart (the runner's own load barely moves it; allocation-heavy JS slows further than the probe when the host slows).",
    },
  ),
);

const step = def(
  'step',
  obj({
    connections: opt(measured({ description: "Established, as counted by the server (the driver's count is driverConnections)." })),
    server: opt(object(serverStats)),
    kernel: opt(object(kernelStats, 'Growth since run.kernelBaseline, floored at 0.')),
    throughput: opt(object(throughput)),
    latencyUs: opt(object(latency)),
    errors: opt(object(errors)),
    label: opt(orNull(Type.String(), 'a string', { description: 'Runner addition: the phase\'s label, e.g. "200 connections".' })),
    driverConnections: opt(measured({ description: 'Runner addition: connections the driver(s) held at the end of the step.' })),
    windowMs: opt(measured({ description: 'Runner addition: length of the measured window (server CPU is over it).' })),
    serverProtocolErrors: opt(measured({ description: 'Runner addition: malformed input the contender counted since the load began (the conformance check\'s deliberate errors before it are left out).' })),
    serverExtra: opt(
      Type.Record(Type.String(), Type.Number({ mustBe: 'a number' }), { mustBe: 'an object', description: "Runner addition: the contender's own counters at the end of the step, summed over workers." }),
    ),
    groups: opt(Type.Record(Type.String(), groupStep(), { mustBe: 'an object' })),
    reap: opt(reap()),
    driverCpuPct: opt(measured({ description: "Runner addition: the driver's CPU, % of one core (load steps)." })),
    clientBound: opt(flag()),
    givenUp: opt(givenUp()),
    fellBehind: opt(flag({ description: 'Runner addition: messages were dropped, timed out or lost (see givenUp).' })),
    syscallsPerOp: opt(object(syscalls)),
    host: opt(hostProbe()),
  }),
);

// ---- the memory fit -----------------------------------------------------------------------

const fitLine = def(
  'fitLine',
  obj(
    {
      of: Type.String({ minLength: 1, mustBe: 'a non-empty string', description: 'The step figure fitted against step.connections, as a path into a step.' }),
      slope: Type.Number({ mustBe: 'a number', description: 'Bytes per connection; may be negative (then the summary figure is null).' }),
      intercept: Type.Number({ mustBe: 'a number', description: 'Bytes at zero connections.' }),
      r2: orNull(Type.Number({ minimum: 0, maximum: 1 }), 'a number from 0 to 1', { description: 'Coefficient of determination; null when the figure did not vary.' }),
      steps: array(count(), { description: 'Indices into run.steps of the points fitted: those of fit.steps where the figure was measured.' }),
    },
    { required: ['of', 'slope', 'intercept', 'r2', 'steps'] },
  ),
);

const fitOrNull = (description: string) => Type.Union([fitLine(), Type.Null()], { mustBe: 'an object or null', description });

/** The summary figures (and the two extra slopes) that are least-squares fits over steps. */
export const FIT_KEYS = [
  'bytesPerConnection',
  'kernelBytesPerConnection',
  'engineBytesPerConnection',
  'nonHeapBytesPerConnection',
  'rssAnonBytesPerConnection',
  'heapUsedBytesPerConnection',
] as const;
export type FitKey = (typeof FIT_KEYS)[number];

const memoryFit = def(
  'memoryFit',
  obj(
    {
      steps: array(count(), {
        description: 'Indices into run.steps that the fits may use: every step but those the scenario left out (a measure with fit: false, a reap).',
      }),
      bytesPerConnection: fitOrNull('Of server.rssBytes: summary.bytesPerConnection.'),
      kernelBytesPerConnection: fitOrNull('Of kernel.slabBytes, fitted before the floor at 0: summary.kernelBytesPerConnection.'),
      engineBytesPerConnection: fitOrNull("Of server.engineBytes, the epoll engine's own count: summary.engineBytesPerConnection."),
      nonHeapBytesPerConnection: fitOrNull('Of server.rssBytes - server.heapTotalBytes: summary.nonHeapBytesPerConnection.'),
      rssAnonBytesPerConnection: fitOrNull('Of server.rssAnonBytes.'),
      heapUsedBytesPerConnection: fitOrNull('Of server.heapUsedBytes.'),
    },
    {
      required: ['steps', ...FIT_KEYS],
      description:
        'The per-connection memory fits, computed once by the runner; every reader uses them. An entry is null when fewer than two of the steps measured its figure, or their connection counts were too close to tell a slope.',
    },
  ),
);

const summary = def(
  'summary',
  obj({
    maxConnections: opt(measured()),
    connectRatePerSec: opt(measured()),
    bytesPerConnection: opt(measured({ description: 'Slope of server memory (RSS) over the steps: fit.bytesPerConnection, null when negative.' })),
    kernelBytesPerConnection: opt(measured({ description: 'fit.kernelBytesPerConnection, null when negative.' })),
    engineBytesPerConnection: opt(measured({ description: "Epoll engine contenders: fit.engineBytesPerConnection, null when negative." })),
    nonHeapBytesPerConnection: opt(measured({ description: "Memory outside V8's heap: fit.nonHeapBytesPerConnection, null when negative." })),
    opsPerSec: opt(measured()),
    opsPerServerCpuSec: opt(measured()),
    latencyUs: opt(Type.Union([obj({ p50: opt(measured()), p99: opt(measured()) }), Type.Null()], { mustBe: 'an object' })),
    fit: opt(memoryFit()),
  }),
);

// ---- runs ---------------------------------------------------------------------------------

const timeline = def(
  'timeline',
  obj(
    {
      tMs: array(Type.Number({ mustBe: 'a number not below the one before it' })),
      connections: opt(array(measured())),
      cpuPct: opt(array(measured(), { description: 'Server CPU, user + system, percent of one core, from the clock ticks of /proc/<pid>/stat (10 ms each; a shape over time, not a figure).' })),
      rssBytes: opt(array(measured())),
      marks: opt(array(obj({ tMs: Type.Number({ mustBe: 'a number' }), label: Type.String({ mustBe: 'a string' }) }), { description: 'Runner addition: the start of each phase.' })),
    },
    {
      required: ['tMs'],
      description:
        'Samples over the whole run, ramps included. Addition. tMs is milliseconds since the run started; every series present has one value (or null) per tMs entry.',
    },
  ),
);

const drain = def(
  'drain',
  obj(
    { cut: opt(measured()), boundMs: opt(measured()) },
    {
      description:
        "The contender's graceful drain when it was stopped. Addition. cut: connections still open when the drain bound forced them closed, summed over workers (0 when the drain finished in time; null when a worker could not tell or did not report). boundMs: the drain bound each worker had.",
    },
  ),
);

const ramp = def(
  'ramp',
  obj(
    {
      target: opt(measured()),
      established: opt(measured()),
      failed: opt(measured()),
      ms: opt(measured()),
      ratePerSec: opt(measured()),
      minWindow: opt(measured({ description: 'Native driver: the fewest connects any driver process allowed in flight (below 64: the ramp slowed itself).' })),
      group: opt(name({ description: 'The driver group, when not main.' })),
    },
    { description: 'Runner addition: one ramp.' },
  ),
);

const appliedLimits = def(
  'appliedLimits',
  obj(
    {
      maxMessageBytes: opt(measured()),
      idleTimeoutMs: opt(measured()),
      backlog: opt(measured()),
      pingIntervalMs: opt(measured()),
      maxQueuedBytes: opt(measured()),
    },
    { description: 'Runner addition: the limits the contender applied (its first worker\'s ready message); null = no such limit there.' },
  ),
);

const appliedTls = def(
  'appliedTls',
  obj(
    {
      library: name({ description: 'Where the contender\'s TLS code comes from, e.g. "node:tls (OpenSSL 3.0.19)".' }),
      tickets: opt(flag({ description: 'Session tickets issued; null = the library has no such setting.' })),
      handshakeTimeoutMs: opt(measured({ description: 'The handshake bound it applied; null = none.' })),
      sharedTicketKey: opt(
        flag({ description: 'With tickets: every worker sealed them with the run\'s one key (a ticket resumes on any worker); false = each its own; null = the library cannot be given a key.' }),
      ),
      note: opt(name({ description: 'What the figures cannot say (e.g. a library that closes silent handshakes by its idle timeout instead).' })),
    },
    { description: 'Runner addition (--tls): the TLS the contender applied (its first worker\'s ready message).' },
  ),
);

const kernelBaseline = def(
  'kernelBaseline',
  obj(
    { slabBytes: opt(measured()), sockstatMemPages: opt(measured()), tcpInUse: opt(measured()), tcpTw: opt(measured()) },
    { description: 'Runner addition: kernel figures before the contender started; step kernel figures are growth from these.' },
  ),
);

const conformance = def('conformance', conformanceSummarySchema);

const run = def(
  'run',
  obj(
    {
      contender: name(),
      protocol: name(),
      driver: name(),
      rep: count({ description: 'Repetition index, from 0.' }),
      ok: Type.Boolean({ mustBe: 'true or false' }),
      error: opt(optionalName({ description: 'A sentence, when ok is false.' })),
      skipped: opt(optionalName({ description: 'A reason, when the contender cannot speak the protocol; then ok is false.' })),
      clientBound: opt(flag({ description: 'The driver saturated its CPU: throughput is a lower bound.' })),
      workers: opt(measured()),
      steps: array(step(), { description: 'One per measured level; empty for a skipped run.' }),
      summary: opt(object(summary, 'Absent or null for a skipped run or one that failed before measuring.')),
      timeline: opt(object(timeline)),
      drain: opt(object(drain)),
      ramps: opt(array(ramp())),
      limits: opt(appliedLimits()),
      tls: opt(appliedTls()),
      kernelBaseline: opt(kernelBaseline()),
      warnings: opt(array(Type.String({ mustBe: 'a string' }), { description: 'Runner addition: what did not fail the run but should be known.' })),
      conformance: opt(conformance({ description: 'Runner addition: the quick conformance cases of the protocol (src/conform/), run against the contender right after its primer and before it was measured.' })),
    },
    {
      required: ['contender', 'protocol', 'driver', 'rep', 'ok', 'steps'],
      allOf: [
        {
          if: { type: 'object', required: ['ok'], properties: { ok: { const: false } } },
          then: {
            violation: 'has ok: false but neither an error nor a skipped reason',
            anyOf: [
              // Absent counts as null; no `required` here, so the breach is reported at the run.
              { type: 'object', not: { type: 'object', properties: { error: { type: 'null' } } } },
              { type: 'object', not: { type: 'object', properties: { skipped: { type: 'null' } } } },
            ],
          },
        },
        {
          if: { type: 'object', required: ['ok'], properties: { ok: { const: true } } },
          then: { type: 'object', properties: { skipped: { type: 'null', violation: 'is set but ok is true; a skipped run has ok: false' } } },
        },
      ],
    },
  ),
);

const comparison = def(
  'comparison',
  obj(
    {
      metric: name({ description: 'Dotted path of the compared field in a run, e.g. "summary.bytesPerConnection".' }),
      baseline: name({ description: 'Contender the ratios are relative to.' }),
      ratios: Type.Record(Type.String(), measured(), { mustBe: 'an object' }),
      protocol: opt(name({ description: 'Runner addition: the protocol whose runs were compared.' })),
      intervals: opt(
        Type.Record(
          Type.String(),
          orNull(Type.Unsafe<[number, number]>(Type.Array(Type.Number({ minimum: 0 }), { minItems: 2, maxItems: 2 })), '[low, high] or null'),
          { mustBe: 'an object', description: 'Addition: each ratio\'s interval over repetitions, [low, high] (see intervalMethod); null when not measured.' },
        ),
      ),
      pairs: opt(Type.Record(Type.String(), count(), { mustBe: 'an object', description: 'Addition: repetition pairs each interval was made of.' })),
      intervalMethod: opt(name({ description: 'Addition: how the intervals were computed.' })),
    },
    { required: ['metric', 'baseline', 'ratios'] },
  ),
);

// The runner's top-level additions. Their own homes are the scenario (src/runner/scenario.ts:
// Phase, the load, the limits asked for) and preflight; the file records them as given.
const phase = def(
  'phase',
  obj(
    {
      kind: name({ description: 'ramp, warmup, measure, reap, hold or cooldown.' }),
      label: opt(Type.String({ mustBe: 'a string' })),
      fit: opt(Type.Boolean({ mustBe: 'true or false', description: 'false: this measure is left out of the memory fits.' })),
    },
    { required: ['kind'], description: 'Runner addition: a phase of every run, as the scenario produced it (src/runner/scenario.ts, Phase).' },
  ),
);

const driverLoad = def(
  'driverLoad',
  obj(
    { mode: opt(name()), driver: opt(name({ description: "The group's own driver, when it is not the run's (a group may name one; the main group never does)." })) },
    { description: "Runner addition: a driver group's load (src/drivers/driver-contract.ts, DriverConfig without protocol, targets, sourceAddresses; driver only when the group names its own)." },
  ),
);

const requestedLimits = def(
  'requestedLimits',
  obj(
    {
      maxMessageBytes: opt(measured()),
      idleTimeoutMs: opt(measured()),
      pingIntervalMs: opt(measured()),
      maxQueuedBytes: opt(measured()),
    },
    { description: 'Runner addition: the limits the scenario asked the contenders for (src/contenders/contender-contract.ts, Limits).' },
  ),
);

const preflight = def(
  'preflight',
  obj(
    {
      serverWorkers: opt(measured()),
      driverProcesses: opt(measured()),
      sourceAddresses: opt(measured()),
      listenBacklog: opt(measured()),
      warnings: opt(array(Type.String({ mustBe: 'a string' }))),
    },
    { description: "Runner addition: the preflight plan's split and its warnings." },
  ),
);

const result = obj(
  {
    schema: Type.Literal(RESULT_SCHEMA),
    scenario: name({ description: 'Scenario name, e.g. "idle-hold".' }),
    params: Type.Record(Type.String(), Type.Unknown(), { mustBe: 'an object', description: 'Every effective parameter of the run, defaults filled in.' }),
    env: env(),
    startedAt: dateTime(),
    finishedAt: dateTime(),
    note: opt(optionalName({ description: 'Free text, e.g. that the file holds test data. Addition.' })),
    runs: array(run(), { description: 'One per contender × repetition, in the order run.' }),
    comparisons: opt(array(comparison(), { description: 'Ratios computed by the runner from runs of this same file.' })),
    interrupted: opt(Type.Boolean({ mustBe: 'true or false', description: 'Runner addition: Ctrl-C ended the run early.' })),
    phases: opt(array(phase())),
    load: opt(driverLoad()),
    groups: opt(Type.Record(Type.String(), driverLoad(), { mustBe: 'an object', description: "Runner addition: the scenario's other driver groups and their loads." })),
    limits: opt(requestedLimits()),
    preflight: opt(preflight()),
  },
  { required: ['schema', 'scenario', 'params', 'env', 'startedAt', 'finishedAt', 'runs'] },
);

// ---- the types ----------------------------------------------------------------------------

/** A figure that may not have been measured: absent or null means "not measured". */
export type Measured = number | null;

export type C1mResult = Static<typeof result>;
export type Env = C1mResult['env'];
export type Run = C1mResult['runs'][number];
export type Step = Run['steps'][number];
export type ServerStats = NonNullable<Step['server']>;
export type KernelStats = NonNullable<Step['kernel']>;
export type Throughput = NonNullable<Step['throughput']>;
export type Latency = NonNullable<Step['latencyUs']>;
export type Hdr = NonNullable<Latency['hdr']>;
export type Syscalls = NonNullable<Step['syscallsPerOp']>;
export type Errors = NonNullable<Step['errors']>;
export type GroupStep = NonNullable<Step['groups']>[string];
export type Reap = NonNullable<Step['reap']>;
export type HostProbe = NonNullable<Step['host']>;
export type GivenUp = NonNullable<Step['givenUp']>;
export type Summary = NonNullable<Run['summary']>;
export type MemoryFit = NonNullable<Summary['fit']>;
export type FitLine = NonNullable<MemoryFit['bytesPerConnection']>;
export type Timeline = NonNullable<Run['timeline']>;
export type Drain = NonNullable<Run['drain']>;
export type Ramp = NonNullable<Run['ramps']>[number];
export type AppliedLimits = NonNullable<Run['limits']>;
export type KernelBaseline = NonNullable<Run['kernelBaseline']>;
export type Conformance = NonNullable<Run['conformance']>;
export type Comparison = NonNullable<C1mResult['comparisons']>[number];
export type PhaseRecord = NonNullable<C1mResult['phases']>[number];
export type DriverLoad = NonNullable<C1mResult['load']>;
export type RequestedLimits = NonNullable<C1mResult['limits']>;
export type Preflight = NonNullable<C1mResult['preflight']>;

/** A validated result together with the file it came from. */
export interface LoadedResult {
  file: string;
  result: C1mResult;
}

export const LATENCY_KEYS = ['p50', 'p90', 'p99', 'p999', 'max'] as const;
export type LatencyKey = (typeof LATENCY_KEYS)[number];

// ---- the document -------------------------------------------------------------------------

/** The JSON Schema document (draft 2020-12) of a result file, plain JSON. */
export function resultSchemaDocument(): Record<string, unknown> {
  const doc = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'c1m.result-1.schema.json',
    title: `c1m result file, schema ${RESULT_SCHEMA}`,
    description:
      'One file per `c1m run`. The contract is /work/shared/RESULTS.md plus the additions listed in results/README.md and src/runner/README.md. A number that was not measured is absent or null, never 0. Unknown fields are allowed. Generated from src/results/schema.ts by `npm run schema`; do not edit by hand. `mustBe` and `violation` carry the wording of the validator\'s messages. Not expressible here and checked by src/results/validate.ts only: every timeline series has as many samples as tMs, and tMs does not decrease; summary.fit names steps that exist, each entry\'s steps are among fit.steps, and each per-connection summary figure is its fit\'s slope (null when the slope is negative).',
    ...result,
    $defs: defs,
  };
  // Through JSON: TypeBox's symbol-keyed bookkeeping goes, what is left is the document.
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}

/** The text of SCHEMA_FILE, exactly as `npm run schema` writes it. */
export function resultSchemaText(): string {
  return `${JSON.stringify(resultSchemaDocument(), null, 2)}\n`;
}
