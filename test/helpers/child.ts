// Starting and talking to the helper child processes above, and making sure they are gone.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Child {
  proc: ChildProcess;
  ask<T>(msg: unknown, type: string, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Forks dist/test/helpers/<name>.js with a JSON argument and waits for its 'ready' message.
 * `nofile` starts it with that open-files limit (through the shell's ulimit, then exec); `env`
 * replaces its environment.
 */
export async function startChild(name: string, arg: unknown, o: { nofile?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Child & { ready: Record<string, unknown> }> {
  const file = fileURLToPath(new URL(`./${name}.js`, import.meta.url));
  const limited = o.nofile === undefined ? {} : { execPath: '/bin/sh', execArgv: ['-c', `ulimit -n ${o.nofile} && exec "$0" "$@"`, process.execPath] };
  const proc = fork(file, [JSON.stringify(arg)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], ...limited, ...(o.env ? { env: o.env } : {}) });
  const ask = <T>(msg: unknown, type: string, timeoutMs = 60000): Promise<T> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${name}: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      const on = (m: { type?: string }): void => {
        if (m?.type !== type) return;
        clearTimeout(t);
        proc.off('message', on);
        resolve(m as T);
      };
      proc.on('message', on);
      proc.once('exit', (code) => reject(new Error(`${name} exited with ${code}`)));
      if (msg !== null) proc.send(msg as never);
    });
  const ready = await ask<Record<string, unknown>>(null, 'ready', 20000);
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  };
  return { proc, ask, stop, ready };
}

/** True while a process with this PID exists (and is not a zombie of ours). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
