/**
 * CPU time of synchronous in-process work, for the benchmarks (`npm run bench:parsers`,
 * `npm run bench:shards`): the process's user + system time (all threads, garbage collection
 * included), not wall time. On a machine shared with other jobs, wall time mostly measures the other
 * jobs; CPU time counts only the work measured (microsecond resolution, `process.cpuUsage`).
 */

/** CPU milliseconds `run` takes. */
export function cpuMilliseconds(run: () => unknown): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
