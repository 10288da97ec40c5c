/**
 * Queue mode for real on the example app: the queue server and the Ruby worker of lib/queue-ruby.ts
 * (the very programs the Dagger graph runs), workers each with their own postgres and redis, every
 * worker booting the app once and running batch after batch in one process.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import { planQueue } from "../../modules/pipeline/src/lib/queue-plan.js";
import { summariseQueueRun, type QueueRunResult } from "../../modules/pipeline/src/lib/queue-run.js";
import { planTestRun } from "../../modules/pipeline/src/lib/test-run.js";
import { EXAMPLE_APP, readExampleInputs, runQueue } from "../support/shard-runner.js";

const WORKERS = 4; // with 4 the longest file (31 s of 107 s) is over its fair share: it is queued example by example
let specFiles: string[];
let result: QueueRunResult;
let dropped: string[];
let output: string;

beforeAll(async () => {
  const inputs = await readExampleInputs();
  specFiles = inputs.specFiles;
  // Timings that miss the last three examples of the longest file: they were "added since".
  const timings = JSON.parse(inputs.timingsText!) as Record<string, number>;
  const plan0 = planTestRun({ ...inputs, shards: WORKERS, shardIndex: -1 });
  const big = [...plan0.previous.files].sort((a, b) => b.seconds - a.seconds)[0]!;
  const ids = (big.examples ?? []).map((e) => e.id).sort((a, b) => Number(/(\d+)\]$/.exec(a)![1]) - Number(/(\d+)\]$/.exec(b)![1]));
  dropped = ids.slice(-3);
  const reduced = JSON.stringify(Object.fromEntries(Object.entries(timings).filter(([k]) => !dropped.includes(k))));
  const plan = planTestRun({ ...inputs, timingsText: reduced, shards: WORKERS, shardIndex: -1 });
  const queue = planQueue(plan.previous.files, { workers: WORKERS });
  expect(queue.batches.at(-1)!.catchAll?.map((c) => c.file)).toEqual([big.path]);
  const outRoot = await mkdtemp(path.join(os.tmpdir(), "queue-run-"));
  const run = await runQueue(queue, outRoot, { appDir: EXAMPLE_APP });
  output = run.outcomes.map((o) => o.output).join("\n");
  result = summariseQueueRun(plan, queue, run.workers, run.outcomes);
  // The summary table only when it explains a failure: a passing run keeps the test output quiet.
  if (!result.summary.passed) console.log(result.text);
}, 900_000);

describe("queue mode on the example app (real rspec, postgres, redis per worker)", () => {
  it("every example ran exactly once and passed", () => {
    expect(result.summary.problems).toEqual([]);
    expect(result.failures).toBe(0);
    expect(result.unfinishedBatches).toBe(0);
    const merged = parseJUnit(result.mergedJUnit, "merged");
    expect(merged.files.map((f) => f.file).sort()).toEqual(specFiles);
    const ids = result.examples.map((e) => e.id);
    expect(ids.every((id) => id !== undefined)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("the examples the timings did not know ran too, in the catch-all batch", () => {
    for (const id of dropped) expect(result.examples.filter((e) => e.id === id)).toHaveLength(1);
  });

  it("each worker booted the app once and ran several batches in that process", () => {
    expect(result.summary.shards).toHaveLength(WORKERS);
    for (const s of result.summary.shards) expect(s.tests).toBeGreaterThan(0);
    expect(output.match(/files took [\d.]+ seconds? to load/g)!.length).toBeGreaterThan(WORKERS);
    expect(output).toMatch(/queue worker worker-\d ran \d+ batch\(es\)/);
  });

  it("the report says which worker ran which batch and example, and gives per-example timings", () => {
    const queue = JSON.parse(result.queueJson) as { batches: Array<{ worker: number | null }> };
    expect(queue.batches.every((b) => b.worker !== null)).toBe(true);
    expect(new Set(result.examples.map((e) => e.shard)).size).toBe(WORKERS);
    expect(Object.keys(JSON.parse(result.timingsJson) as object).length).toBe(result.examples.length);
  });
});
