// What a command reads and writes besides its arguments: stdout, stderr, the terminal's width and
// the environment. main() takes one, so tests drive every command without a process of its own.

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Columns of stdout when it is a terminal; the reports' default width when absent. */
  readonly columns?: number | undefined;
  /** The environment a command reads (tune's state file: XDG_CACHE_HOME, HOME); process.env when absent. */
  readonly env?: NodeJS.ProcessEnv | undefined;
}

/** This process's stdout, stderr and environment. */
export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    env: process.env,
  };
}
