/**
 * Run one test shard of the example app for real, the way the Dagger graph does, minus the engine:
 * its own postgres and redis (test/support/services.ts), the script from lib/shard-script.ts, the
 * reports read back from its out folder. Shared by the integration test and the benchmark.
 */
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { readSourceTestInputs } from "../../modules/pipeline/cli/shards.js";
import { parseConfig } from "../../modules/pipeline/src/lib/config.js";
import { formatShardScript } from "../../modules/pipeline/src/lib/shard-script.js";
import type { ShardOutcome, TestRunInput, TestRunPlan } from "../../modules/pipeline/src/lib/test-run.js";
import { REPO_ROOT } from "./introspect.js";
import { startPostgres, startRedis } from "./services.js";

export const EXAMPLE_APP = path.join(REPO_ROOT, "test/fixtures/rails-api");
const config = parseConfig(undefined);

export interface ShardRun {
  index: number;
  shardCount: number;
  units: string[];
  catchAll?: Array<{ file: string; knownIds: string[] }>;
}

export const shardOf = (plan: TestRunPlan, index: number): ShardRun => ({
  index,
  shardCount: plan.shardPlan.shards.length,
  units: plan.shardPlan.shards[index]!.units,
  catchAll: plan.catchAll[index],
});

/** What the planner reads from the example app (spec files, committed timings, sizes), as `npm run shards -- --source` reads it. */
export async function readExampleInputs(): Promise<Pick<TestRunInput, "specFiles" | "timingsText" | "timingsSource" | "fileSizes">> {
  return readSourceTestInputs(EXAMPLE_APP);
}

/** Lines of a failing shard's output printed; the whole output goes to a file. */
const OUTPUT_TAIL_LINES = 40;

/** The last `lines` lines of `text`, with a note of how many were left out. */
export function tail(text: string, lines: number): string {
  const all = text.replace(/\n$/, "").split("\n");
  return all.length <= lines ? all.join("\n") : [`[... ${all.length - lines} earlier line(s)]`, ...all.slice(-lines)].join("\n");
}

/** Run one shard with its own services; they are stopped when it ends. Never throws on failing examples. */
export async function runShard({ index, shardCount, units, catchAll }: ShardRun, outRoot: string): Promise<ShardOutcome> {
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
      }),
    );
    const env = { ...process.env, RAILS_ENV: "test", DATABASE_URL: pg.url, REDIS_URL: redis.url, TEST_SHARD: `shard-${index}-of-${shardCount}` };
    const child = spawn("bash", [script], { cwd: EXAMPLE_APP, env });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const exitCode: number = await new Promise((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    const read = (f: string) => readFile(path.join(outDir, f), "utf8").catch(() => undefined);
    const [junit, rspecJson, seconds] = await Promise.all([read("junit.xml"), read("rspec.json"), read("seconds")]);
    if (exitCode !== 0) {
      // A failing shard's output runs to thousands of lines of backtrace: the tail, and where the rest is.
      const log = path.join(outRoot, `shard-${index}.log`);
      await writeFile(log, output);
      console.error(`shard ${index} exited with ${exitCode}; the last lines of its output (all of it: ${log}):\n${tail(output, OUTPUT_TAIL_LINES)}`);
    }
    return { index, exitCode, output, junit: junit ?? "", rspecJson, seconds: seconds === undefined ? undefined : Number(seconds) };
  } finally {
    await Promise.all([pg.stop(), redis.stop()]);
  }
}
