/**
 * Run one test shard of the example app for real, the way the Dagger graph does, minus the engine:
 * its own postgres and redis (test/support/services.ts), the script from lib/shard-script.ts, the
 * reports read back from its out folder. Shared by the integration test and the benchmark.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { listSourceFiles } from "../../modules/pipeline/cli/source-dir.js";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { mergeWorkerReports, parseWorkerBatches, type QueuePlan, type WorkerBatches } from "../../modules/pipeline/src/lib/queue-plan.js";
import { readRetryReports } from "../../modules/pipeline/src/lib/retries.js";
import { formatShardScript } from "../../modules/pipeline/src/lib/shard-script.js";
import type { ShardOutcome, TestRunInput, TestRunPlan } from "../../modules/pipeline/src/lib/test-run.js";
import { REPO_ROOT } from "./introspect.js";
import { startQueueServer } from "./queue-server.js";
import { startPostgres, startRedis } from "./services.js";

export const EXAMPLE_APP = path.join(REPO_ROOT, "test/fixtures/rails-api");
const config = parseConfig(undefined);

export interface ShardRun {
  index: number;
  shardCount: number;
  units: string[];
  catchAll?: Array<{ file: string; knownIds: string[] }>;
  /** Rerun failed examples up to this many times (`--retries`). */
  retries?: number;
  /** The app to run (default the example app). */
  appDir?: string;
  /** Queue mode: a worker pulling batches from the queue server on this port (units are ignored). */
  queue?: { port: number; worker: string };
  /** Called with the shard's process (in its own process group), e.g. to kill it in a test. */
  onSpawn?: (child: ChildProcess) => void;
}

export const shardOf = (plan: TestRunPlan, index: number, extra: Pick<ShardRun, "retries" | "appDir"> = {}): ShardRun => ({
  ...extra,
  index,
  shardCount: plan.shardPlan.shards.length,
  units: plan.shardPlan.shards[index]!.units,
  catchAll: plan.catchAll[index],
});

/** What the planner reads from the example app: spec files, committed timings, sizes. */
export async function readExampleInputs(app = EXAMPLE_APP): Promise<Pick<TestRunInput, "specFiles" | "timingsText" | "timingsSource" | "fileSizes">> {
  const specFiles = listSourceFiles(app, config.test.specGlob);
  const timingsText = await readFile(path.join(app, config.test.timingsFile), "utf8").catch(() => undefined);
  const sizes = await Promise.all(specFiles.map(async (f) => (await stat(path.join(app, f))).size));
  return { specFiles, timingsText, timingsSource: config.test.timingsFile, fileSizes: Object.fromEntries(specFiles.map((f, i) => [f, sizes[i]!])) };
}

/** Lines of a failing shard's output printed; the whole output goes to a file. */
const OUTPUT_TAIL_LINES = 40;

/** The last `lines` lines of `text`, with a note of how many were left out. */
export function tail(text: string, lines: number): string {
  const all = text.replace(/\n$/, "").split("\n");
  return all.length <= lines ? all.join("\n") : [`[... ${all.length - lines} earlier line(s)]`, ...all.slice(-lines)].join("\n");
}

/** Run one shard with its own services; they are stopped when it ends. Never throws on failing examples. */
export async function runShard({ index, shardCount, units, catchAll, retries, appDir, queue, onSpawn }: ShardRun, outRoot: string): Promise<ShardOutcome & { workerBatches?: WorkerBatches }> {
  const [pg, redis] = await Promise.all([startPostgres({ database: `blinker_test_${index}` }), startRedis()]);
  try {
    const outDir = path.join(outRoot, `shard-${index}`);
    const script = path.join(outRoot, `shard-${index}.sh`);
    await writeFile(
      script,
      formatShardScript({
        shardIndex: index,
        shardCount,
        units,
        catchAll,
        setupCommands: config.test.setupCommands,
        outDir,
        postgres: { host: "127.0.0.1", port: pg.port },
        redis: { host: "127.0.0.1", port: redis.port },
        retries: retries ?? 0,
        ...(queue ? { queue: { host: "127.0.0.1", port: queue.port, worker: queue.worker } } : {}),
      }),
    );
    const env = { ...process.env, RAILS_ENV: "test", DATABASE_URL: pg.url, REDIS_URL: redis.url, TEST_SHARD: `shard-${index}-of-${shardCount}` };
    const child = spawn("bash", [script], { cwd: appDir ?? EXAMPLE_APP, env, detached: true });
    onSpawn?.(child);
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exitCode: number = await new Promise((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    const read = (f: string) => readFile(path.join(outDir, f), "utf8").catch(() => undefined);
    const [junit, rspecJson, seconds] = await Promise.all([read("junit.xml"), read("rspec.json"), read("seconds")]);
    const retried = await readRetryReports(read);
    if (exitCode !== 0) {
      // A failing shard's output runs to thousands of lines of backtrace: the tail, and where the rest is.
      const log = path.join(outRoot, `shard-${index}.log`);
      await writeFile(log, output);
      console.error(`shard ${index} exited with ${exitCode}; the last lines of its output (all of it: ${log}):\n${tail(output, OUTPUT_TAIL_LINES)}`);
    }
    const outcome = { index, exitCode, output, junit: junit ?? "", rspecJson, seconds: seconds === undefined ? undefined : Number(seconds), ...retried };
    if (!queue) return outcome;
    // A worker's JUnit is the merge of the batches the queue accepted from it.
    const workerBatches = parseWorkerBatches(await read("batches.json"), queue.worker);
    const names = workerBatches.batches.flatMap((b) => [`batch-${b.id}.xml`, `batch-${b.id}.json`]);
    const files = new Map((await Promise.all(names.map(async (n) => [n, await read(n)] as const))).filter((e): e is readonly [string, string] => e[1] !== undefined));
    return { ...outcome, junit: mergeWorkerReports(workerBatches, files).junit, workerBatches };
  } finally {
    await Promise.all([pg.stop(), redis.stop()]);
  }
}

/**
 * Queue mode locally, as the graph runs it: one queue server, `workers` shards each with its own
 * postgres and redis pulling batches from it. A worker that dies has its leased batches released
 * at once (the graph cannot tell, there the lease times out).
 */
export async function runQueue(
  queuePlan: QueuePlan,
  outRoot: string,
  options: { retries?: number; appDir?: string; leaseSeconds?: number; onSpawn?: (worker: number, child: ChildProcess) => void } = {},
): Promise<{ outcomes: ShardOutcome[]; workers: WorkerBatches[] }> {
  const server = await startQueueServer(queuePlan, outRoot, { leaseSeconds: options.leaseSeconds });
  try {
    const results = await Promise.all(
      Array.from({ length: queuePlan.workers }, async (_, index) => {
        const worker = `worker-${index}`;
        const outcome = await runShard(
          {
            index,
            shardCount: queuePlan.workers,
            units: [],
            retries: options.retries,
            appDir: options.appDir,
            queue: { port: server.port, worker },
            onSpawn: (child) => options.onSpawn?.(index, child),
          },
          outRoot,
        );
        if (outcome.exitCode !== 0) await server.ask({ op: "release", worker });
        return outcome;
      }),
    );
    return { outcomes: results, workers: results.map((r, i) => r.workerBatches ?? { worker: `worker-${i}`, batches: [] }) };
  } finally {
    await server.stop();
  }
}
