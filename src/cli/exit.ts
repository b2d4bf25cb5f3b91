// The exit codes of every `c1m` command, in one table. Each command's help text says which of
// them it uses; a code keeps its meaning across commands.

export const EXIT = {
  /** Done: every run ok (skips allowed), the report or profile written, preflight feasible. */
  ok: 0,
  /** Failed: nothing written, preflight refused or infeasible, a file or scenario could not be read; for `compare`, a figure regressed (the gate failed). */
  failed: 1,
  /** Usage: unknown command or flag, bad value, missing argument (nothing was started); for `compare` also results that cannot be compared (unreadable, different scenarios or parameters). */
  usage: 2,
  /** Written, but some run is not ok (`run`, `suite`; for `suite` also a scenario refused). */
  someRunsFailed: 3,
  /** The tool or contender cannot run on this machine (`profile`). */
  unavailable: 4,
  /** Interrupted by Ctrl-C or SIGTERM (`run`, `suite`, `profile`; `serve` stops with 0): what was measured is written. */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
