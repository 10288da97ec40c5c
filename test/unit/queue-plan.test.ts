import { describe, expect, it } from "vitest";
import { explainQueueRun, formatQueueBatches, mergeWorkerReports, planQueue, type WorkerBatches } from "../../modules/pipeline/src/lib/queue-plan.js";
import { summariseQueueRun } from "../../modules/pipeline/src/lib/queue-run.js";
import { parseJUnit } from "../../modules/pipeline/src/lib/junit.js";
import { planTestRun } from "../../modules/pipeline/src/lib/test-run.js";
import type { ResolvedFileTiming } from "../../modules/pipeline/src/lib/timings.js";

const file = (path: string, seconds: number, examples?: number[]): ResolvedFileTiming => ({
  path,
  seconds,
  estimated: false,
  ...(examples ? { examples: examples.map((s, i) => ({ id: `${path}[1:${i + 1}]`, seconds: s })) } : {}),
});

const FILES = [
  file("spec/big_spec.rb", 40, [10, 10, 10, 10]),
  ...Array.from({ length: 30 }, (_, i) => file(`spec/f${String(i).padStart(2, "0")}_spec.rb`, 1 + (i % 7))),
];

describe("planQueue", () => {
  const plan = planQueue(FILES, { workers: 4 });

  it("queues every unit exactly once, longest first, a file over its fair share example by example", () => {
    const units = plan.batches.flatMap((b) => b.units);
    expect(units.filter((u) => u.startsWith("spec/big_spec.rb"))).toEqual(["spec/big_spec.rb[1:1]", "spec/big_spec.rb[1:2]", "spec/big_spec.rb[1:3]", "spec/big_spec.rb[1:4]"]);
    expect(units.filter((u) => u.startsWith("spec/f")).sort()).toEqual(FILES.slice(1).map((f) => f.path));
    const firsts = plan.batches.map((b) => b.seconds);
    expect(firsts.slice(0, 4)).toEqual([10, 10, 10, 10]);
  });

  it("batches shrink toward the end: each holds about remaining / (2 x workers) seconds, at least one unit", () => {
    let remaining = plan.batches.reduce((t, b) => t + b.seconds, 0);
    for (const b of plan.batches.filter((x) => !x.catchAll)) {
      const target = Math.max(remaining / 8, 0.5);
      if (b.units.length > 1) expect(b.seconds).toBeLessThanOrEqual(target + 1e-9);
      remaining -= b.seconds;
    }
    const real = plan.batches.filter((b) => !b.catchAll);
    expect(real.at(-1)!.seconds).toBeLessThan(real[0]!.seconds);
  });

  it("ends with a catch-all batch for the split file (examples added since the timings)", () => {
    expect(plan.batches.at(-1)).toEqual({ id: plan.batches.length - 1, units: [], seconds: 0, catchAll: [{ file: "spec/big_spec.rb", knownIds: ["spec/big_spec.rb[1:1]", "spec/big_spec.rb[1:2]", "spec/big_spec.rb[1:3]", "spec/big_spec.rb[1:4]"] }] });
  });

  it("is deterministic: the same inputs in any order give a byte-identical queue", () => {
    const shuffled = [...FILES].reverse();
    expect(formatQueueBatches(planQueue(shuffled, { workers: 4 }))).toBe(formatQueueBatches(plan));
  });

  it("without example splitting queues whole files only and no catch-all", () => {
    const whole = planQueue(FILES, { workers: 4, splitExamples: false });
    expect(whole.batches.flatMap((b) => b.units)).toContain("spec/big_spec.rb");
    expect(whole.batches.some((b) => b.catchAll)).toBe(false);
  });
});

const junitOf = (files: string[]) =>
  `<testsuite name="rspec" tests="${files.length}">${files.map((f) => `<testcase classname="c" name="${f} works" file="./${f}" time="1"/>`).join("")}</testsuite>`;

describe("a queue run explained", () => {
  const queue = planQueue([file("spec/a_spec.rb", 3), file("spec/b_spec.rb", 2), file("spec/c_spec.rb", 1)], { workers: 2, minBatchSeconds: 0 });
  const workers: WorkerBatches[] = [
    { worker: "worker-0", batches: [{ id: 0, units: queue.batches[0]!.units, seconds: 3.1, exitCode: 0 }] },
    { worker: "worker-1", batches: queue.batches.slice(1).map((b) => ({ id: b.id, units: b.units, seconds: b.seconds, exitCode: 0 })) },
  ];

  it("gives each worker the units of the batches it ran", () => {
    const { shardPlan, unfinished, assignments } = explainQueueRun(queue, workers);
    expect(shardPlan.strategy).toBe("queue");
    expect(shardPlan.shards.map((s) => s.units)).toEqual([["spec/a_spec.rb"], ["spec/b_spec.rb", "spec/c_spec.rb"]]);
    expect(unfinished).toEqual([]);
    expect(assignments.map((a) => a.worker)).toEqual([0, 1, 1]);
  });

  it("merges a worker's batch reports into one JUnit and one rspec JSON", () => {
    const files = new Map([
      ["batch-1.xml", junitOf(["spec/b_spec.rb"])],
      ["batch-2.xml", junitOf(["spec/c_spec.rb"])],
      ["batch-1.json", JSON.stringify({ examples: [{ id: "./spec/b_spec.rb[1:1]" }] })],
    ]);
    const merged = mergeWorkerReports(workers[1]!, files);
    expect(parseJUnit(merged.junit).files.map((f) => f.file)).toEqual(["spec/b_spec.rb", "spec/c_spec.rb"]);
    expect(JSON.parse(merged.rspecJson)).toEqual({ examples: [{ id: "./spec/b_spec.rb[1:1]" }] });
  });

  it("fails the run and names the units of a batch no worker finished", () => {
    const plan = planTestRun({ specFiles: ["spec/a_spec.rb", "spec/b_spec.rb", "spec/c_spec.rb"], timingsSource: "(none)", fileSizes: {}, shards: 2, shardIndex: -1 });
    const lost = [workers[0]!, { worker: "worker-1", batches: [] }];
    const result = summariseQueueRun(plan, queue, lost, [
      { index: 0, exitCode: 0, output: "", junit: junitOf(["spec/a_spec.rb"]), seconds: 3 },
      { index: 1, exitCode: 1, output: "", junit: "", seconds: 1 },
    ]);
    expect(result.unfinishedBatches).toBe(2);
    expect(result.summary.passed).toBe(false);
    expect(result.text).toContain("2 queue batch(es) were never finished (every worker holding them died): spec/b_spec.rb spec/c_spec.rb");
    expect(JSON.parse(result.queueJson).batches.map((b: { worker: number | null }) => b.worker)).toEqual([0, null, null]);
  });
});
