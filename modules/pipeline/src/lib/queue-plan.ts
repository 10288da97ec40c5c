/**
 * Queue mode, pure: the batches the queue hands out, and what a queue run produced, per worker.
 *
 * Order: the planner's, longest unit first (a file, or one example of a file longer than its fair
 * share when example ids are known), ties by path: the same inputs give a byte-identical queue.
 * Batches shrink toward the end (guided self-scheduling): each batch takes about
 * remaining / (2 x workers) seconds of work, at least `minBatchSeconds` and at least one unit, so
 * early batches are few and large (little per-batch overhead) and the last ones are small (a short
 * tail: no worker is left with a big batch while the others are idle). The sizes depend only on
 * the predicted seconds, so they are computed here once rather than by the server at run time.
 */
import { mergeJUnit } from "./junit.js";
import { groupExampleIds, type PlannedShard, type ShardPlan } from "./shard-planner.js";
import { compareStrings, parseUnitKey, type ResolvedFileTiming } from "./timings.js";

export interface QueueBatch {
  /** Position in the queue, from 0: the order batches are handed out in. */
  id: number;
  /** rspec arguments: files and grouped example ids. */
  units: string[];
  /** Predicted seconds. */
  seconds: number;
  /**
   * Files queued example by example whose examples unknown to the timings this batch runs (added
   * since the timings were recorded): the worker runs the file minus `knownIds`. Only in the last batch.
   */
  catchAll?: Array<{ file: string; knownIds: string[] }>;
  /**
   * A file whose examples are unknown (no timings, or file-level timings only) and that may be long:
   * the worker that leases it lists its examples (an in-process dry run) and, when there are at
   * least `minExamples`, gives them back to the queue as `into` smaller batches at this batch's place
   * in the order instead of running the file alone. Without per-example ids nothing else can split it.
   */
  split?: { minExamples: number; into: number };
}

export interface QueuePlan {
  workers: number;
  batches: QueueBatch[];
  totalSeconds: number;
}

export interface PlanQueueOptions {
  workers: number;
  /** Queue the examples of a file longer than total/workers one by one (default true). */
  splitExamples?: boolean;
  /** Smallest batch worth a round trip and an rspec run (default 0.5 s). */
  minBatchSeconds?: number;
  /** Add the catch-all batch for examples added since the timings (default true; not when rerunning failures). */
  catchAll?: boolean;
  /** Rewrites each batch's units (e.g. whole files to just their failed examples). */
  narrow?: (units: string[]) => string[];
  /** Files with at least this many examples are split at run time when their example ids are unknown (default 8). */
  splitMinExamples?: number;
}

interface Atom {
  key: string;
  file: string;
  seconds: number;
  /** Split at run time: queued as a batch of its own. */
  runtimeSplit?: boolean;
}

/** The queue: units longest first, cut into shrinking batches. */
export function planQueue(files: readonly ResolvedFileTiming[], options: PlanQueueOptions): QueuePlan {
  const workers = Math.max(1, options.workers);
  const total = files.reduce((t, f) => t + f.seconds, 0);
  const share = total / workers;
  const atoms: Atom[] = [];
  const catchAll: NonNullable<QueueBatch["catchAll"]> = [];
  for (const f of files) {
    const split = (options.splitExamples ?? true) && f.examples && f.examples.length > 1 && workers > 1 && f.seconds > share;
    if (!split) {
      // No example ids: only the worker can split it, once it has listed the examples.
      const runtimeSplit = (options.splitExamples ?? true) && !f.examples && workers > 1 && (f.estimated || f.seconds > share);
      atoms.push({ key: f.path, file: f.path, seconds: f.seconds, ...(runtimeSplit ? { runtimeSplit } : {}) });
      continue;
    }
    catchAll.push({ file: f.path, knownIds: f.examples!.map((e) => e.id).sort(compareStrings) });
    const sum = f.examples!.reduce((t, e) => t + e.seconds, 0);
    // Examples carry the file's whole time (load, before(:all)) in proportion to their own, as in planShards.
    for (const e of f.examples!) atoms.push({ key: e.id, file: f.path, seconds: sum > 0 ? (e.seconds * f.seconds) / sum : f.seconds / f.examples!.length });
  }
  atoms.sort((a, b) => b.seconds - a.seconds || compareStrings(a.key, b.key));

  const min = options.minBatchSeconds ?? 0.5;
  const batches: QueueBatch[] = [];
  let remaining = atoms.reduce((t, a) => t + a.seconds, 0);
  for (let i = 0; i < atoms.length; ) {
    const target = Math.max(remaining / (2 * workers), min);
    const taken: Atom[] = [];
    let seconds = 0;
    while (i < atoms.length && (taken.length === 0 || (!taken[0]!.runtimeSplit && !atoms[i]!.runtimeSplit && seconds + atoms[i]!.seconds <= target))) {
      taken.push(atoms[i]!);
      seconds += atoms[i]!.seconds;
      i++;
    }
    remaining -= seconds;
    const units = groupUnits(taken);
    const split = taken[0]!.runtimeSplit ? { split: { minExamples: options.splitMinExamples ?? 8, into: workers } } : {};
    batches.push({ id: batches.length, units: options.narrow ? options.narrow(units) : units, seconds, ...split });
  }
  if (catchAll.length > 0 && options.catchAll !== false) batches.push({ id: batches.length, units: [], seconds: 0, catchAll: catchAll.sort((a, b) => compareStrings(a.file, b.file)) });
  return { workers, batches, totalSeconds: total };
}

/** Whole files as they are, examples of one file grouped into one rspec argument. */
function groupUnits(atoms: readonly Atom[]): string[] {
  const whole = atoms.filter((a) => a.key === a.file).map((a) => a.key);
  const byFile = new Map<string, string[]>();
  for (const a of atoms) if (a.key !== a.file) byFile.set(a.file, [...(byFile.get(a.file) ?? []), a.key]);
  const grouped = [...byFile].sort(([a], [b]) => compareStrings(a, b)).flatMap(([file, ids]) => groupExampleIds(file, ids));
  return [...whole.sort(compareStrings), ...grouped];
}

/**
 * How long a worker may hold a batch before the server gives it to another worker: a worker that
 * died (killed shard) cannot say so in the engine, its lease times out. Generous, since a slow
 * machine runs a batch several times slower than predicted: 3 x the longest batch + 2 minutes.
 */
export function queueLeaseSeconds(plan: QueuePlan): number {
  return Math.ceil(3 * Math.max(0, ...plan.batches.map((b) => b.seconds)) + 120);
}

/** The file the queue server reads: `{"batches":[{id, units, seconds}]}`, one batch a line. */
export function formatQueueBatches(plan: QueuePlan): string {
  const line = (b: QueueBatch) =>
    JSON.stringify({ id: b.id, units: b.units, seconds: Number(b.seconds.toFixed(6)), ...(b.catchAll ? { catchAll: b.catchAll } : {}), ...(b.split ? { split: b.split } : {}) });
  return `{"batches": [\n${plan.batches.map((b) => `  ${line(b)}`).join(",\n")}\n]}\n`;
}

/** What a worker's `batches.json` says: the batches the server accepted from it. */
export interface WorkerBatches {
  worker: string;
  /** `splitInto`: the batch was split at run time into these new batches (it ran nothing itself). */
  batches: Array<{ id: number; units: string[]; seconds: number; exitCode: number; splitInto?: number[] }>;
}

export function parseWorkerBatches(text: string | undefined, worker: string): WorkerBatches {
  if (!text) return { worker, batches: [] };
  try {
    const parsed = JSON.parse(text) as Partial<WorkerBatches>;
    return { worker, batches: Array.isArray(parsed.batches) ? parsed.batches : [] };
  } catch {
    return { worker, batches: [] };
  }
}

/** One worker's reports merged from its accepted batches: JUnit (one suite per batch) and rspec JSON. */
export function mergeWorkerReports(worker: WorkerBatches, files: ReadonlyMap<string, string>): { junit: string; rspecJson: string } {
  const reports = worker.batches
    .filter((b) => !b.splitInto)
    .map((b) => ({ name: `${worker.worker} batch ${b.id}`, xml: files.get(`batch-${b.id}.xml`) }))
    .filter((r): r is { name: string; xml: string } => r.xml !== undefined);
  const examples = worker.batches.filter((b) => !b.splitInto).flatMap((b) => {
    const text = files.get(`batch-${b.id}.json`);
    if (!text) return [];
    try {
      return (JSON.parse(text) as { examples?: unknown[] }).examples ?? [];
    } catch {
      return [];
    }
  });
  return { junit: reports.length ? mergeJUnit(reports, { name: worker.worker }) : "", rspecJson: JSON.stringify({ examples }) };
}

/**
 * The run explained as a shard plan: worker i's units are the batches it ran, in the order it ran
 * them; its predicted seconds their predicted total. Batches no worker completed (every worker
 * died holding them) are listed in `unfinished`.
 */
export function explainQueueRun(plan: QueuePlan, workers: readonly WorkerBatches[]): { shardPlan: ShardPlan; unfinished: QueueBatch[]; assignments: Array<{ batch: number; worker: number }> } {
  const assignments: Array<{ batch: number; worker: number }> = [];
  const seen = new Set<number>();
  const shards: PlannedShard[] = workers.map((w, index) => {
    const mine = w.batches.filter((b) => !seen.has(b.id));
    for (const b of mine) {
      seen.add(b.id);
      if (!b.splitInto) assignments.push({ batch: b.id, worker: index });
    }
    const predicted = mine.reduce((t, b) => t + (plan.batches[b.id]?.seconds ?? 0), 0);
    return { index, units: mine.filter((b) => !b.splitInto).flatMap((b) => b.units), predictedSeconds: predicted };
  });
  // Batches made at run time by splitting a file must have been finished too.
  const created = workers.flatMap((w) => w.batches.flatMap((b) => (b.splitInto ?? []).map((id) => ({ id, parent: b }))));
  const makespan = Math.max(0, ...shards.map((s) => s.predictedSeconds));
  const longest = plan.batches.reduce((m, b) => Math.max(m, b.seconds), 0);
  const lower = Math.max(plan.totalSeconds / Math.max(workers.length, 1), longest);
  const files = new Set(plan.batches.flatMap((b) => b.units.map((u) => parseUnitKey(u.replace(/\[[\d:,]+\]$/, "")).file)));
  const shardPlan: ShardPlan = {
    strategy: "queue",
    shardCount: workers.length,
    shards,
    totalSeconds: plan.totalSeconds,
    lowerBoundSeconds: lower,
    makespanSeconds: makespan,
    ratio: lower > 0 ? makespan / lower : 1,
    bottleneck: { shardIndex: shards.findIndex((s) => s.predictedSeconds === makespan), unit: "", unitSeconds: 0, reason: "balance" },
    splitFiles: [],
    unsplittable: [],
    fileCount: files.size,
    estimatedCount: 0,
  };
  const unfinished = [
    ...plan.batches.filter((b) => !seen.has(b.id)),
    ...created.filter((c) => !seen.has(c.id)).map((c) => ({ id: c.id, units: [`part of ${c.parent.units.join(" ")}`], seconds: 0 })),
  ];
  return { shardPlan, unfinished, assignments: assignments.sort((a, b) => a.batch - b.batch) };
}
