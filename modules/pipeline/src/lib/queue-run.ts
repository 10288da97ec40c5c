/**
 * A queue run summarised, pure: the workers' outcomes go through the same summary as a static run
 * (lib/test-run.ts), with the plan rebuilt from what each worker actually ran, so the report says
 * which worker ran which batch and example, and the next run's timings come from it. Batches no
 * worker finished (every worker that held them died) make the run fail, naming their units.
 */
import { explainQueueRun, type QueuePlan, type WorkerBatches } from "./queue-plan.js";
import { summariseTestRun, type ShardOutcome, type TestRunPlan, type TestRunResult } from "./test-run.js";

export interface QueueRunResult extends TestRunResult {
  /** `queue.json` of the report: the batches in queue order, who ran each, and the unfinished ones. */
  queueJson: string;
  unfinishedBatches: number;
}

export function summariseQueueRun(plan: TestRunPlan, queue: QueuePlan, workers: readonly WorkerBatches[], outcomes: readonly ShardOutcome[]): QueueRunResult {
  const explained = explainQueueRun(queue, workers);
  const runPlan: TestRunPlan = { ...plan, shardPlan: explained.shardPlan, selected: explained.shardPlan.shards.map((s) => s.index), catchAll: {} };
  const result = summariseTestRun(runPlan, outcomes);
  const unfinished = explained.unfinished;
  if (unfinished.length > 0) {
    const units = unfinished.flatMap((b) => [...b.units, ...(b.catchAll ?? []).map((c) => `${c.file} (examples added since the timings)`)]);
    const message = `${unfinished.length} queue batch(es) were never finished (every worker holding them died): ${units.slice(0, 10).join(" ")}${units.length > 10 ? " ..." : ""}`;
    result.summary.problems.push({ shardIndex: -1, message });
    result.summary.passed = false;
    result.brokenShards += 1;
    result.text += `\n\nQueue problem: ${message}`;
  }
  const reported = workers.flatMap((w) => w.batches.map((b) => b.id));
  const twice = [...new Set(reported.filter((id, i) => reported.indexOf(id) !== i))];
  if (twice.length > 0) {
    const message = `${twice.length} queue batch(es) ran on two workers (the queue service restarted during the run), so their examples are counted twice: batches ${twice.join(", ")}`;
    result.summary.problems.push({ shardIndex: -1, message });
    result.summary.passed = false;
    result.brokenShards += 1;
    result.text += `\n\nQueue problem: ${message}`;
  }
  const owner = new Map(explained.assignments.map((a) => [a.batch, a.worker]));
  const queueJson = `{"workers": ${workers.length}, "batches": [\n${queue.batches
    .map((b) => `  ${JSON.stringify({ id: b.id, units: b.units, predictedSeconds: Number(b.seconds.toFixed(6)), worker: owner.get(b.id) ?? null, seconds: workers.flatMap((w) => w.batches).find((x) => x.id === b.id)?.seconds ?? null })}`)
    .join(",\n")}\n]}\n`;
  return { ...result, queueJson, unfinishedBatches: unfinished.length };
}
