// npm's install script: builds the addon and the native executables with node-gyp, unless
// build/Release already holds every target binding.gyp builds on this box (its conditions
// evaluated as node-gyp would: the io_uring targets only where liburing-dev is installed), each
// newer than binding.gyp and every file under native/. A rebuild deletes build/ first, which would pull the addon from
// under a run that is using it; an install that has nothing to build (npm ci, npm link, npx in
// a clone) now leaves it alone. `npm run build:native` (or C1M_REBUILD=1) always rebuilds.
//
//   node scripts/install.mjs            rebuild when needed
//   node scripts/install.mjs --check    say whether a rebuild is needed (exit 0 no, 1 yes); build nothing
//   --root DIR                          the package root (default: this script's parent folder)

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLiburing } from './has-liburing.mjs';

/** binding.gyp as data: a Python literal, read as JSON once its comments and trailing commas go. */
export function readGyp(root) {
  const text = readFileSync(join(root, 'binding.gyp'), 'utf8');
  let json = '';
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote !== null) {
      json += ch;
      if (ch === '\\') json += text[++i] ?? '';
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      json += ch;
    } else if (ch === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      json += '\n';
    } else {
      json += ch;
    }
  }
  try {
    return JSON.parse(json.replace(/,(\s*[}\]])/g, '$1'));
  } catch (err) {
    throw new Error(`binding.gyp: cannot read it as data (${err.message}); scripts/install.mjs reads double-quoted gyp only`);
  }
}

/**
 * The values of binding.gyp's variables as node-gyp would see them: c1m_uring is what
 * scripts/has-liburing.mjs prints (1 when liburing-dev is installed), the others their defaults.
 */
export function gypVariables(gyp) {
  const vars = {};
  for (const [k, v] of Object.entries(gyp.variables ?? {})) vars[k.replace(/%$/, '')] = v;
  vars.c1m_uring = findLiburing().found ? 1 : 0;
  return vars;
}

/** A gyp condition of the forms binding.gyp uses (`name==value`, `name!=value`), evaluated. */
function conditionHolds(expr, vars) {
  const m = /^\s*(\w+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?\d+))\s*$/.exec(expr);
  if (m === null || !(m[1] in vars)) throw new Error(`binding.gyp: scripts/install.mjs cannot evaluate the condition ${JSON.stringify(expr)}`);
  const want = m[5] !== undefined ? Number(m[5]) : (m[3] ?? m[4]);
  const have = typeof want === 'number' ? Number(vars[m[1]]) : String(vars[m[1]]);
  return (have === want) === (m[2] === '==');
}

/** The targets binding.gyp builds with these variables: the plain ones and those its conditions add. */
function gypTargets(gyp, vars) {
  const targets = [...(gyp.targets ?? [])];
  for (const cond of gyp.conditions ?? []) {
    // [expr, then, expr, then, …, else?]: the first expr that holds picks its dict.
    let picked;
    let i = 0;
    for (; i + 1 < cond.length; i += 2) {
      if (conditionHolds(cond[i], vars)) {
        picked = cond[i + 1];
        break;
      }
    }
    if (picked === undefined && i < cond.length) picked = cond[i];
    targets.push(...(picked?.targets ?? []));
  }
  return targets;
}

/**
 * What node-gyp writes into build/Release for binding.gyp's targets: `c1m.node`, executables by
 * name. A target under a condition (c1m_uring==1: the io_uring pieces) counts only where the
 * condition holds, so a box without liburing-dev does not rebuild at every install for it.
 */
export function buildOutputs(root, vars) {
  const gyp = readGyp(root);
  return gypTargets(gyp, vars ?? gypVariables(gyp)).map((t) =>
    join(root, 'build', 'Release', (t.type ?? 'loadable_module') === 'executable' ? t.target_name : `${t.target_name}.node`),
  );
}

/** binding.gyp and every file under native/: what the outputs are built from. */
export function buildInputs(root) {
  const walk = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  return [join(root, 'binding.gyp'), ...walk(join(root, 'native'))];
}

/** Why the native build must run in root, or null when build/Release is up to date with its sources. */
export function rebuildReason(root, vars) {
  if (!existsSync(join(root, 'binding.gyp'))) return null;
  const outputs = buildOutputs(root, vars);
  if (outputs.length === 0) return 'binding.gyp names no target';
  let oldest = Number.POSITIVE_INFINITY;
  let oldestOutput = '';
  for (const out of outputs) {
    if (!existsSync(out)) return `${relative(root, out)} is missing`;
    const t = statSync(out).mtimeMs;
    if (t < oldest) [oldest, oldestOutput] = [t, out];
  }
  for (const input of buildInputs(root)) {
    if (statSync(input).mtimeMs > oldest) return `${relative(root, input)} is newer than ${relative(root, oldestOutput)}`;
  }
  return null;
}

/** node-gyp as npm runs it for install scripts (npm_config_node_gyp), else from PATH. */
function nodeGyp(args, root) {
  const js = process.env['npm_config_node_gyp'];
  const [cmd, argv] = js ? [process.execPath, [js, ...args]] : ['node-gyp', args];
  return spawnSync(cmd, argv, { cwd: root, stdio: 'inherit' });
}

function main(argv) {
  const at = argv.indexOf('--root');
  const root = resolve(at >= 0 && argv[at + 1] !== undefined ? argv[at + 1] : join(dirname(fileURLToPath(import.meta.url)), '..'));
  const force = process.env['C1M_REBUILD'] === '1';
  const reason = force ? 'C1M_REBUILD=1' : rebuildReason(root);
  if (argv.includes('--check')) {
    console.log(reason === null ? 'c1m: the native build is up to date' : `c1m: the native build must run: ${reason}`);
    return reason === null ? 0 : 1;
  }
  if (reason === null) {
    console.log('c1m: build/Release is up to date with binding.gyp and native/; not rebuilding (npm run build:native rebuilds)');
    return 0;
  }
  console.log(`c1m: building the addon (${reason})`);
  const r = nodeGyp(['rebuild'], root);
  if (r.error !== undefined) {
    console.error(`c1m: cannot run node-gyp: ${r.error.message}`);
    return 1;
  }
  return r.status ?? 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
