// npm's install script: builds the addon and the native executables with node-gyp, unless
// build/Release already holds every target binding.gyp names, each newer than binding.gyp and
// every file under native/. A rebuild deletes build/ first, which would pull the addon from
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

/** What node-gyp writes into build/Release for binding.gyp's targets: `c1m.node`, executables by name. */
export function buildOutputs(root) {
  const gyp = readFileSync(join(root, 'binding.gyp'), 'utf8');
  const outputs = [];
  // Each target is one object; its type (default: a loadable module, `<name>.node`) follows its name.
  for (const m of gyp.matchAll(/"target_name"\s*:\s*"([^"]+)"([^}]*)/g)) {
    const type = /"type"\s*:\s*"([^"]+)"/.exec(m[2] ?? '')?.[1] ?? 'loadable_module';
    outputs.push(join(root, 'build', 'Release', type === 'executable' ? m[1] : `${m[1]}.node`));
  }
  return outputs;
}

/** binding.gyp and every file under native/: what the outputs are built from. */
export function buildInputs(root) {
  const walk = (dir) =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  return [join(root, 'binding.gyp'), ...walk(join(root, 'native'))];
}

/** Why the native build must run in root, or null when build/Release is up to date with its sources. */
export function rebuildReason(root) {
  if (!existsSync(join(root, 'binding.gyp'))) return null;
  const outputs = buildOutputs(root);
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
