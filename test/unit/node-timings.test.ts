/**
 * Timings across CI nodes (lib/node-timings.ts): each node's report keeps what ITS shard measured,
 * merge-timings unions the nodes' files, and the result equals what one machine running every shard
 * would have written. A node that planned differently is refused. Also the report's outcome.json
 * that check-tests reads (lib/test-outcome.ts).
 */
import { describe, expect, it } from "vitest";
import { formatNodeTimings, mergeNodeTimings, planDigest } from "../../modules/pipeline/src/lib/node-timings.js";
import { formatTestOutcome, parseTestOutcome } from "../../modules/pipeline/src/lib/test-outcome.js";
import { planTestRun, summariseTestRun, type ShardOutcome } from "../../modules/pipeline/src/lib/test-run.js";
import { thrown } from "../support/errors.js";

/** Seconds an example "took" in the simulated run: deterministic, different from the previous run. */
const fresh = (id: string) => 0.5 + ([...id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 997, 7) % 40) / 10;

/** Previous timings with three long files timed per example, 27 short ones, and one new file. */
function simulatedRun(previousSeconds = 3) {
  const specFiles: string[] = [];
  const previous: Record<string, number> = {};
  for (let f = 0; f < 3; f++) {
    specFiles.push(`spec/big_${f}_spec.rb`);
    for (let e = 1; e <= 10; e++) previous[`spec/big_${f}_spec.rb[1:${e}]`] = previousSeconds;
  }
  for (let f = 0; f < 27; f++) {
    specFiles.push(`spec/small_${f}_spec.rb`);
    previous[`spec/small_${f}_spec.rb`] = 1 + (f % 5);
  }
  specFiles.push("spec/new_spec.rb"); // never timed: estimated this time, measured next time
  specFiles.sort();
  const input = { specFiles, timingsText: JSON.stringify(previous), timingsSource: ".pipeline/timings.json", fileSizes: {}, shards: 8 };
  /** rspec's JSON for the units of one shard: example ids, run times. */
  const outcome = (index: number, units: string[]): ShardOutcome => {
    const examples = units.flatMap((u) => {
      const grouped = /^(.+)\[([\d:,]+)\]$/.exec(u);
      const ids = grouped ? grouped[2]!.split(",").map((id) => `./${grouped[1]}[${id}]`) : [1, 2, 3].map((e) => `./${u}[1:${e}]`);
      return ids.map((id) => ({ id, file_path: id.replace(/\[.*$/, ""), run_time: fresh(id) }));
    });
    return { index, exitCode: 0, output: "", junit: "", rspecJson: JSON.stringify({ version: "3.13", examples }) };
  };
  return { input, outcome };
}

/** Eight CI nodes, each running its own shard of the same plan: the files their reports hold. */
function nodeFiles(run = simulatedRun()) {
  return Array.from({ length: 8 }, (_, i) => {
    const plan = planTestRun({ ...run.input, shardIndex: i });
    return formatNodeTimings(plan.shardPlan, [run.outcome(i, plan.shardPlan.shards[i]!.units)])[0]!;
  }).map((f) => ({ name: f.path, text: f.text }));
}

describe("node timings: each node keeps its shard's measurement, the merge equals a run of all shards", () => {
  it("the union of the 8 nodes' files is exactly the timings.json of one machine running every shard", () => {
    const { input, outcome } = simulatedRun();
    const all = planTestRun({ ...input, shardIndex: -1 });
    expect(all.shardPlan.shards.some((s) => s.units.some((u) => u.includes("["))), "a long file is split by examples").toBe(true);
    const reference = summariseTestRun(all, all.shardPlan.shards.map((s) => outcome(s.index, s.units))).timingsJson;

    const files = nodeFiles();
    expect(files.map((f) => f.name)).toEqual(Array.from({ length: 8 }, (_, i) => `timings/shard-${i}-of-8.json`));
    const merged = mergeNodeTimings(files);
    expect(merged.timingsJson).toBe(reference);
    expect(Object.keys(JSON.parse(merged.timingsJson))).toContain("spec/new_spec.rb[1:1]");
    expect(merged.summary).toMatch(/^merged 8 of 8 shard\(s\): \d+ timing entries$/);
  });

  it("a node's file holds only what its shard ran, never the previous timings of other files", () => {
    const run = simulatedRun();
    const plan = planTestRun({ ...run.input, shardIndex: 2 });
    const [file] = formatNodeTimings(plan.shardPlan, [run.outcome(2, plan.shardPlan.shards[2]!.units)]);
    const node = JSON.parse(file!.text);
    expect(node).toMatchObject({ pipelineNodeTimings: 1, shardIndex: 2, shards: 8, plan: planDigest(plan.shardPlan) });
    const ranFiles = new Set(plan.shardPlan.shards[2]!.units.map((u) => u.replace(/\[.*$/, "")));
    for (const key of Object.keys(node.timings)) expect(ranFiles.has(key.replace(/\[.*$/, "")), key).toBe(true);
    // The all-in-one timings.json of the same call holds every other file too: that is what the old jq filter removed.
    const full = JSON.parse(summariseTestRun(plan, [run.outcome(2, plan.shardPlan.shards[2]!.units)]).timingsJson);
    expect(Object.keys(full).length).toBeGreaterThan(Object.keys(node.timings).length);
  });

  it("a node that read other previous timings planned differently: the merge refuses (examples could have been skipped)", () => {
    const files = nodeFiles();
    const other = nodeFiles(simulatedRun(9)); // another pipeline saved the cache between the nodes' restores
    const mixed = [...files.slice(0, 5), ...other.slice(5)];
    const err = thrown(() => mergeNodeTimings(mixed));
    expect(err.code).toBe("TIMINGS_INVALID");
    expect(err.message).toContain("timings/shard-5-of-8.json planned differently from timings/shard-0-of-8.json");
    expect(err.hint).toContain("restore the timings cache before the test step");
  });

  it("missing nodes are named; the others still merge", () => {
    const merged = mergeNodeTimings(nodeFiles().filter((_, i) => i !== 3 && i !== 6));
    expect(merged.summary).toContain("merged 6 of 8 shard(s)");
    expect(merged.summary).toContain("no timings from shard(s) 3, 6");
  });

  it("ignores other files of the collected folder (junit, summaries) and reads node files at any depth", () => {
    const files = nodeFiles().map((f, i) => ({ ...f, name: `node-${i}/test_results/${f.name}` }));
    const merged = mergeNodeTimings([...files, { name: "node-0/test_results/timings.json", text: "{}" }, { name: "junit/merged.xml", text: "<x/>" }]);
    expect(merged.summary).toContain("merged 8 of 8");
  });

  it.each([
    ["no node file at all", [{ name: "timings.json", text: "{}" }], "no node timings (shard-<i>-of-<n>.json) among 1 file(s): timings.json"],
    ["an empty folder", [], "no node timings (shard-<i>-of-<n>.json) among 0 file(s)"],
    ["a file that is not JSON", [{ name: "shard-0-of-2.json", text: "{" }], "shard-0-of-2.json is not JSON"],
    ["a file of another shape", [{ name: "shard-0-of-2.json", text: '{"spec/a_spec.rb": 1}' }], "shard-0-of-2.json is not a node timings file"],
    ["negative seconds", [{ name: "shard-0-of-2.json", text: JSON.stringify({ pipelineNodeTimings: 1, shardIndex: 0, shards: 2, plan: "p", timings: { a: -1 } }) }], "is not a node timings file"],
    [
      "the same shard twice",
      [0, 0].map((i, k) => ({ name: `n${k}/shard-${i}-of-2.json`, text: JSON.stringify({ pipelineNodeTimings: 1, shardIndex: i, shards: 2, plan: "p", timings: {} }) })),
      "shard 0 twice: n0/shard-0-of-2.json and n1/shard-0-of-2.json",
    ],
    [
      "different shard counts",
      [
        { name: "shard-0-of-2.json", text: JSON.stringify({ pipelineNodeTimings: 1, shardIndex: 0, shards: 2, plan: "p", timings: {} }) },
        { name: "shard-1-of-3.json", text: JSON.stringify({ pipelineNodeTimings: 1, shardIndex: 1, shards: 3, plan: "p", timings: {} }) },
      ],
      "shard-1-of-3.json ran 3 shards, shard-0-of-2.json 2",
    ],
  ])("refuses %s", (_, files, fragment) => {
    expect(thrown(() => mergeNodeTimings(files)).message).toContain(fragment);
  });
});

describe("outcome.json (check-tests reads it from the exported report)", () => {
  it("round-trips failures, broken shards and flaky examples", () => {
    expect(parseTestOutcome(formatTestOutcome({ failures: 2, brokenShards: 1, flaky: 3 }), "outcome.json")).toEqual({ pipelineTestOutcome: 1, failures: 2, brokenShards: 1, flaky: 3 });
  });

  it.each([["not JSON", "{"], ["another file", '{"spec/a_spec.rb": 1}'], ["negative counts", '{"pipelineTestOutcome":1,"failures":-1,"brokenShards":0,"flaky":0}'], ["no flaky count", '{"pipelineTestOutcome":1,"failures":0,"brokenShards":0}']])("refuses %s", (_, text) => {
    expect(thrown(() => parseTestOutcome(text, "--report: outcome.json")).message).toContain("--report: outcome.json is not a test outcome");
  });
});
