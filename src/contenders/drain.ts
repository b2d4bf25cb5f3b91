// Pieces of the graceful drain that contenders share (the contract is in README.md, "Graceful
// drain").

/**
 * Resolves after one turn of the event loop. A request that reached the kernel before SIGTERM
 * can sit unread in the same poll round as the signal; closing "idle" connections inside the
 * signal handler would drop it unanswered. After this turn every such byte has been read and
 * answered, so the connections that still look idle are.
 */
export function afterPendingReads(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
