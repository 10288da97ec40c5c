/**
 * Dagger wiring of queue mode: one queue service in the graph (the Ruby server of
 * lib/queue-ruby.ts, run from the test runner image, which has ruby), bound to every shard as
 * `queue`; each shard runs one queue worker (the shard script's queue mode) with its own postgres
 * and redis. Engine rules this leans on:
 * - every shard binds the SAME service definition, and the engine runs one instance of it per
 *   session while any container is bound to it (core/services.go: a running service is keyed by
 *   its digest and the session, with a count of bindings), which is what makes it one queue; its
 *   label names the queue so a different plan's queue is a different service. Were it stopped
 *   between two workers (no binding left) and started again, a batch would run twice: the run
 *   summary reports that (lib/queue-run.ts);
 * - a service is started once its exposed port accepts TCP connections (core/healthcheck.go): the
 *   server listens on QUEUE_PORT, nothing else is exposed;
 * - a worker killed by a signal is reported by the script as exit 1 (core/container.go accepts
 *   0-127 only), so the batches it finished are still read; the batch it held is given to another
 *   worker when its lease expires.
 */
import type { Container, Service } from "@dagger.io/dagger";
import { narrowUnitList } from "./lib/only-failures.js";
import { formatQueueBatches, mergeWorkerReports, parseWorkerBatches, planQueue, queueLeaseSeconds, type QueuePlan, type WorkerBatches } from "./lib/queue-plan.js";
import { QUEUE_SERVER_RB } from "./lib/queue-ruby.js";
import { summariseQueueRun } from "./lib/queue-run.js";
import type { ShardOutcome, TestRunPlan, TestRunResult } from "./lib/test-run.js";

export const QUEUE_PORT = 7878;
const QUEUE_DIR = "/pipeline/queue";

export function queueService(runner: Container, plan: QueuePlan, label: string): Service {
  return runner
    .withLabel("io.pipeline.test-queue", label)
    .withNewFile(`${QUEUE_DIR}/batches.json`, formatQueueBatches(plan))
    .withNewFile(`${QUEUE_DIR}/server.rb`, QUEUE_SERVER_RB)
    .withEnvVariable("QUEUE_LEASE_SECONDS", String(queueLeaseSeconds(plan)))
    .withExposedPort(QUEUE_PORT)
    .asService({ args: ["ruby", `${QUEUE_DIR}/server.rb`, `${QUEUE_DIR}/batches.json`, String(QUEUE_PORT)] });
}

export type QueueWorker = { service: Service; worker: string };

/**
 * Queue mode: plan the queue from the test plan's files, start one queue service, run every shard
 * as a worker of it (`runWorker`, the shard runner of test-suite.ts), summarise per worker.
 */
export async function runQueueWorkers(
  runner: Container,
  plan: TestRunPlan,
  runWorker: (index: number, queue: QueueWorker) => Promise<ShardOutcome & { workerBatches?: WorkerBatches }>,
): Promise<{ summary: TestRunResult; outcomes: ShardOutcome[]; extra: Record<string, string> }> {
  const queue = planQueue(plan.plannedFiles, {
    workers: plan.shardPlan.shardCount,
    // --only-failures: just the failed ids, and no catch-all for examples added since the timings.
    ...(plan.partial ? { catchAll: false, narrow: (units: string[]) => narrowUnitList(units, plan.plannedFiles) } : {}),
  });
  const service = queueService(runner, queue, `queue-${queue.workers}-workers-${queue.batches.length}-batches`);
  const outcomes = await Promise.all(plan.selected.map((index) => runWorker(index, { service, worker: `worker-${index}` })));
  const workers = outcomes.map((o, i) => o.workerBatches ?? { worker: `worker-${i}`, batches: [] });
  const summary = summariseQueueRun(plan, queue, workers, outcomes);
  return { summary, outcomes, extra: { "queue.json": summary.queueJson } };
}

/** A worker's outcome: its JUnit is the merge of the batches the queue accepted from it. */
export async function readWorkerOutcome(
  outcome: ShardOutcome,
  worker: string,
  read: (name: string) => Promise<string | undefined>,
): Promise<ShardOutcome & { workerBatches: WorkerBatches }> {
  const workerBatches = parseWorkerBatches(await read("batches.json"), worker);
  const names = workerBatches.batches.flatMap((b) => [`batch-${b.id}.xml`, `batch-${b.id}.json`]);
  const entries = await Promise.all(names.map(async (n) => [n, await read(n)] as const));
  const files = new Map(entries.filter((e): e is readonly [string, string] => e[1] !== undefined));
  return { ...outcome, junit: mergeWorkerReports(workerBatches, files).junit, workerBatches };
}
