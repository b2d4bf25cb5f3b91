// `c1m conform`'s work: every contender started through the contender machinery (the same
// startContender `c1m serve` and the runner use), once per family of cases (http-hello for the
// HTTP/1.1 cases, ws-echo for the WebSocket ones), every case of that family run against it, the
// contender stopped; a pair it cannot speak is n/a with its reason. The outcome is one
// conformance result: case × contender → pass, the deviation seen, or n/a.

import { errorMessage } from '../checks.js';
import { ContenderUnavailableError, DEFAULT_HOST, speaks, startContender, type ContenderHandle } from '../contenders/index.js';
import type { ProcessTracker } from '../runner/processes.js';
import type { Env } from '../results/schema.js';
import { runCases, type CaseOutcome, type ConformCase, type Family, type Verdict } from './case.js';
import { CONFORM_SCHEMA, type ConformCell, type ConformResult, type ConformRun } from './schema.js';
import { ALL_CASES, caseContext, casesFor, DEFAULT_SLOWLORIS_MS, DEFAULT_WAIT_MS, FAMILY_PROTOCOL } from './suite.js';
import { summarize, summaryLine } from './summary.js';

export interface ConformOptions {
  contenders: readonly string[];
  env: Env;
  waitMs?: number;
  slowlorisMs?: number;
  /** Only these families (default both). */
  families?: readonly Family[];
  /** Every contender process started is added here (Ctrl-C kills what is left). */
  tracker?: ProcessTracker;
  /** Progress lines. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

const FAMILIES: readonly Family[] = ['http', 'ws'];

/** Runs the matrix; never throws for a contender that fails (its cells say why). */
export async function runConformance(o: ConformOptions): Promise<ConformResult> {
  const startedAt = new Date().toISOString();
  const waitMs = o.waitMs ?? DEFAULT_WAIT_MS;
  const slowlorisMs = o.slowlorisMs ?? DEFAULT_SLOWLORIS_MS;
  const families = o.families ?? FAMILIES;
  const log = o.log ?? (() => {});
  const runs: ConformRun[] = [];
  const cells: ConformCell[] = [];
  for (const contender of o.contenders) {
    for (const family of families) {
      const protocol = FAMILY_PROTOCOL[family];
      const cases = casesFor(family);
      const allCells = (v: Verdict): CaseOutcome[] => cases.map((c) => ({ id: c.id, verdict: v, ms: 0 }));
      let outcomes: CaseOutcome[];
      let note: string | null = null;
      let error: string | null = null;
      let limits: ConformRun['limits'] = null;
      const started = Date.now();
      const can = speaks(contender, protocol);
      if (o.signal?.aborted) {
        note = 'not run: interrupted';
        outcomes = allCells({ status: 'n/a', detail: note });
      } else if (can !== true) {
        note = `${contender} does not serve ${protocol}: ${can}`;
        outcomes = allCells({ status: 'n/a', detail: note });
      } else {
        log(`${contender} × ${protocol}: starting`);
        let h: ContenderHandle | null = null;
        try {
          h = await startContender({ contender, protocol, host: DEFAULT_HOST, stderr: 'pipe' });
          for (const w of h.workers) o.tracker?.add(w.pid, 'contender', `${contender}/${protocol}#${w.worker}`);
          const applied = h.workers[0]?.limits;
          limits = { maxMessageBytes: applied?.maxMessageBytes ?? null };
          const port = h.ports[0] as number;
          outcomes = await runCases(cases, caseContext({ host: h.host, port }, protocol, { waitMs, slowlorisMs, maxMessageBytes: limits.maxMessageBytes }));
        } catch (err) {
          note = err instanceof ContenderUnavailableError ? `unavailable here: ${err.reason}` : `could not be started: ${errorMessage(err)}`;
          if (!(err instanceof ContenderUnavailableError)) error = `${contender} × ${protocol} ${note}`;
          outcomes = allCells({ status: 'n/a', detail: `${contender} ${note}` });
        } finally {
          await h?.stop({ killAfterMs: 3000 });
        }
      }
      const summary = summarize(family, note === null ? outcomes : [], Date.now() - started, note);
      runs.push({ contender, family, protocol, limits, summary, error });
      for (const out of outcomes) cells.push(cellOf(out, contender));
      log(`${contender} × ${protocol}: ${summaryLine(summary)}`);
    }
  }
  return {
    schema: CONFORM_SCHEMA,
    env: o.env,
    startedAt,
    finishedAt: new Date().toISOString(),
    params: { contenders: [...o.contenders], families: [...families], waitMs, slowlorisMs },
    cases: ALL_CASES.filter((c) => families.includes(c.family)).map(describeCase),
    runs,
    cells,
  };
}

function cellOf(out: CaseOutcome, contender: string): ConformCell {
  const v = out.verdict;
  return { case: out.id, contender, status: v.status, breaks: v.status === 'deviation' ? v.breaks : null, detail: v.detail, ms: out.ms };
}

function describeCase(c: ConformCase): ConformResult['cases'][number] {
  return { id: c.id, family: c.family, protocol: FAMILY_PROTOCOL[c.family], source: c.source, level: c.level, requirement: c.requirement, sends: c.sends, quick: c.quick };
}
