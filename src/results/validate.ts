// Checks a parsed JSON value against the result contract and returns it typed. Errors name the
// file and the JSON path of the first bad field, so a stranger can fix a hand-edited file:
//   results/x.json: runs[2].steps[0].connections must be a non-negative number, got "abc"
// Unknown fields are allowed everywhere (the contract says fields may be added). The JSON
// Schema in results/schema/c1m.result-1.schema.json states the same rules; test/report.test.ts
// keeps the two in step.

import { RESULT_SCHEMA, type C1mResult } from './schema.js';

export class ResultValidationError extends Error {
  override name = 'ResultValidationError';
  constructor(
    readonly file: string,
    readonly path: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

type Obj = Record<string, unknown>;

/** RFC 3339 date-time, the form `new Date().toISOString()` writes. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Validates `json` (already parsed) read from `fileName`; throws ResultValidationError. */
export function validateResult(json: unknown, fileName: string): C1mResult {
  new Checker(fileName).result(json);
  return json as C1mResult;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'string' && value.length > 60) return JSON.stringify(`${value.slice(0, 57)}...`);
  return JSON.stringify(value);
}

function key(path: string, name: string): string {
  const part = /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
  return path === '' ? part.replace(/^\./, '') : path + part;
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  constructor(private readonly file: string) {}

  private fail(path: string, message: string): never {
    throw new ResultValidationError(this.file, path, `${path} ${message}`);
  }

  private expect(path: string, what: string, value: unknown): never {
    this.fail(path, `must be ${what}, got ${describe(value)}`);
  }

  private object(v: unknown, path: string): Obj {
    if (!isObject(v)) this.expect(path, 'an object', v);
    return v;
  }

  private optionalObject(v: unknown, path: string): Obj | undefined {
    if (v === undefined || v === null) return undefined;
    return this.object(v, path);
  }

  private string(v: unknown, path: string): string {
    if (typeof v !== 'string' || v === '') this.expect(path, 'a non-empty string', v);
    return v;
  }

  private optionalString(v: unknown, path: string): void {
    if (v === undefined || v === null) return;
    this.string(v, path);
  }

  private date(v: unknown, path: string): void {
    if (typeof v !== 'string' || !DATE_TIME.test(v) || Number.isNaN(Date.parse(v))) {
      this.expect(path, 'an ISO-8601 date-time such as "2025-01-31T12:00:00Z"', v);
    }
  }

  /** A figure that may be absent or null (not measured), otherwise finite and >= 0. */
  private measured(v: unknown, path: string): void {
    if (v === undefined || v === null) return;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) this.expect(path, 'a non-negative number', v);
  }

  private measuredFields(o: Obj, path: string, names: readonly string[]): void {
    for (const n of names) this.measured(o[n], key(path, n));
  }

  result(json: unknown): void {
    if (!isObject(json) || json['schema'] !== RESULT_SCHEMA) {
      const got = isObject(json) ? describe(json['schema']) : describe(json);
      throw new ResultValidationError(
        this.file,
        'schema',
        `not a c1m result file: schema must be ${JSON.stringify(RESULT_SCHEMA)}, got ${got}`,
      );
    }
    this.string(json['scenario'], 'scenario');
    this.object(json['params'], 'params');
    this.env(json['env']);
    this.date(json['startedAt'], 'startedAt');
    this.date(json['finishedAt'], 'finishedAt');
    this.optionalString(json['note'], 'note');
    const runs = json['runs'];
    if (!Array.isArray(runs)) this.expect('runs', 'an array', runs);
    runs.forEach((r, i) => this.run(r, `runs[${i}]`));
    const comparisons = json['comparisons'];
    if (comparisons !== undefined) {
      if (!Array.isArray(comparisons)) this.expect('comparisons', 'an array', comparisons);
      comparisons.forEach((c, i) => this.comparison(c, `comparisons[${i}]`));
    }
  }

  private env(v: unknown): void {
    const env = this.object(v, 'env');
    for (const n of ['node', 'kernel', 'cpuModel', 'git', 'hostname']) this.optionalString(env[n], key('env', n));
    this.measuredFields(env, 'env', ['cpus', 'memTotalBytes', 'nofileSoft', 'nofileHard']);
    const sysctl = this.optionalObject(env['sysctl'], 'env.sysctl');
    for (const [name, value] of Object.entries(sysctl ?? {})) {
      if (value !== null && typeof value !== 'string' && typeof value !== 'number') {
        this.expect(key('env.sysctl', name), 'a string, a number or null', value);
      }
    }
    const versions = this.optionalObject(env['versions'], 'env.versions');
    for (const [name, value] of Object.entries(versions ?? {})) {
      if (value !== null && typeof value !== 'string') this.expect(key('env.versions', name), 'a string or null', value);
    }
  }

  private run(v: unknown, path: string): void {
    const run = this.object(v, path);
    for (const n of ['contender', 'protocol', 'driver']) this.string(run[n], key(path, n));
    const rep = run['rep'];
    if (typeof rep !== 'number' || !Number.isInteger(rep) || rep < 0) this.expect(key(path, 'rep'), 'a non-negative integer', rep);
    if (typeof run['ok'] !== 'boolean') this.expect(key(path, 'ok'), 'true or false', run['ok']);
    this.optionalString(run['error'], key(path, 'error'));
    this.optionalString(run['skipped'], key(path, 'skipped'));
    const clientBound = run['clientBound'];
    if (clientBound !== undefined && clientBound !== null && typeof clientBound !== 'boolean') {
      this.expect(key(path, 'clientBound'), 'true, false or null', clientBound);
    }
    this.measured(run['workers'], key(path, 'workers'));
    if (run['ok'] === false && typeof run['error'] !== 'string' && typeof run['skipped'] !== 'string') {
      this.fail(path, 'has ok: false but neither an error nor a skipped reason');
    }
    if (run['ok'] === true && typeof run['skipped'] === 'string') {
      this.fail(key(path, 'skipped'), 'is set but ok is true; a skipped run has ok: false');
    }
    const steps = run['steps'];
    if (!Array.isArray(steps)) this.expect(key(path, 'steps'), 'an array', steps);
    steps.forEach((s, i) => this.step(s, `${path}.steps[${i}]`));
    this.summary(run['summary'], key(path, 'summary'));
    this.timeline(run['timeline'], key(path, 'timeline'));
    const drain = this.optionalObject(run['drain'], key(path, 'drain'));
    if (drain) this.measuredFields(drain, key(path, 'drain'), ['cut', 'boundMs']);
  }

  private step(v: unknown, path: string): void {
    const step = this.object(v, path);
    this.measured(step['connections'], key(path, 'connections'));
    const groups: Array<[string, readonly string[]]> = [
      ['server', ['rssBytes', 'pssBytes', 'heapUsedBytes', 'externalBytes', 'cpuUserMs', 'cpuSysMs']],
      ['kernel', ['slabBytes', 'sockstatMemPages', 'tcpInUse']],
      ['throughput', ['opsPerSec', 'bytesPerSec', 'opsPerServerCpuSec']],
      ['latencyUs', ['p50', 'p90', 'p99', 'p999', 'max']],
      ['errors', ['connect', 'read', 'write', 'timeout', 'protocol']],
    ];
    for (const [group, names] of groups) {
      const o = this.optionalObject(step[group], key(path, group));
      if (o) this.measuredFields(o, key(path, group), names);
    }
  }

  private summary(v: unknown, path: string): void {
    const summary = this.optionalObject(v, path);
    if (!summary) return;
    this.measuredFields(summary, path, [
      'maxConnections',
      'connectRatePerSec',
      'bytesPerConnection',
      'kernelBytesPerConnection',
      'engineBytesPerConnection',
      'nonHeapBytesPerConnection',
      'opsPerSec',
      'opsPerServerCpuSec',
    ]);
    const latency = this.optionalObject(summary['latencyUs'], key(path, 'latencyUs'));
    if (latency) this.measuredFields(latency, key(path, 'latencyUs'), ['p50', 'p99']);
  }

  private timeline(v: unknown, path: string): void {
    const timeline = this.optionalObject(v, path);
    if (!timeline) return;
    const tMs = timeline['tMs'];
    if (!Array.isArray(tMs)) this.expect(key(path, 'tMs'), 'an array', tMs);
    let previous = -Infinity;
    tMs.forEach((t, i) => {
      if (typeof t !== 'number' || !Number.isFinite(t) || t < previous) {
        this.expect(`${path}.tMs[${i}]`, 'a number not below the one before it', t);
      }
      previous = t;
    });
    for (const n of ['connections', 'cpuPct', 'rssBytes']) {
      const series = timeline[n];
      if (series === undefined) continue;
      if (!Array.isArray(series)) this.expect(key(path, n), 'an array', series);
      if (series.length !== tMs.length) {
        this.fail(key(path, n), `has ${series.length} samples but tMs has ${tMs.length}`);
      }
      series.forEach((x, i) => this.measured(x, `${path}.${n}[${i}]`));
    }
  }

  private comparison(v: unknown, path: string): void {
    const c = this.object(v, path);
    this.string(c['metric'], key(path, 'metric'));
    this.string(c['baseline'], key(path, 'baseline'));
    const ratios = this.object(c['ratios'], key(path, 'ratios'));
    for (const [name, value] of Object.entries(ratios)) this.measured(value, key(key(path, 'ratios'), name));
  }
}
