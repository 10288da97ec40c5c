/**
 * Timings across CI nodes, pure. A test run on CI machines runs one shard per node
 * (`--shard-index`); each node's report holds `timings/shard-<i>-of-<n>.json`: what THAT shard
 * measured (per example where rspec gave ids) and a digest of the shard plan it ran. The nodes'
 * files are disjoint, so their union is the whole run's measurement: `mergeNodeTimings` checks that
 * every node ran the same plan (the same previous timings, the same spec files) and writes the next
 * run's timings. A node that planned differently could have skipped or repeated examples: the merge
 * refuses instead of hiding it.
 *
 * node:crypto is computation, not I/O: this file stays pure.
 */
import { createHash } from "node:crypto";
import { PipelineError } from "./errors.js";
import type { ShardPlan } from "./shard-planner.js";
import type { ShardOutcome } from "./test-run.js";
import { compareStrings, formatKnapsackTimings, parseTimingsOrWarn } from "./timings.js";

/** Where the node files live in a test report, and how they are named. */
export const NODE_TIMINGS_DIR = "timings";
const NODE_FILE = /^shard-(\d+)-of-(\d+)\.json$/;

export interface NodeTimingsFile {
  pipelineNodeTimings: 1;
  shardIndex: number;
  shards: number;
  /** sha256 of the shard assignment (index -> units): equal on every node that planned alike. */
  plan: string;
  /** Knapsack timings (`{"spec/a_spec.rb[1:2]": 0.41}`) of what this shard ran. */
  timings: Record<string, number>;
}

/** The digest every node of one run must share. */
export function planDigest(plan: ShardPlan): string {
  const assignment = plan.shards.map((s) => [s.index, s.units]);
  return createHash("sha256").update(JSON.stringify(assignment)).digest("hex");
}

/** One file per shard this call ran: its measurement only (never the previous timings of other files). */
export function formatNodeTimings(plan: ShardPlan, outcomes: readonly ShardOutcome[]): Array<{ path: string; text: string }> {
  const digest = planDigest(plan);
  return outcomes.map((o) => {
    const measured = o.rspecJson ? parseTimingsOrWarn(o.rspecJson, `shard ${o.index} rspec.json`).files : [];
    const entries = measured.flatMap((f) => (f.examples ? f.examples.map((e) => ({ path: e.id, seconds: e.seconds })) : [{ path: f.path, seconds: f.seconds }]));
    const file: NodeTimingsFile = {
      pipelineNodeTimings: 1,
      shardIndex: o.index,
      shards: plan.shardCount,
      plan: digest,
      timings: JSON.parse(formatKnapsackTimings(entries)) as Record<string, number>,
    };
    return { path: `${NODE_TIMINGS_DIR}/shard-${o.index}-of-${plan.shardCount}.json`, text: JSON.stringify(file, null, 2) + "\n" };
  });
}

export interface MergedTimings {
  /** The next run's timings file (knapsack JSON, keys sorted). */
  timingsJson: string;
  /** What was merged, for the log. */
  summary: string;
}

/**
 * Merge the nodes' files (any names; only `shard-<i>-of-<n>.json` are node files) into the next
 * run's timings. Throws when there is no node file, a file is malformed, or the nodes disagree on
 * the shard count or the plan.
 */
export function mergeNodeTimings(files: ReadonlyArray<{ name: string; text: string }>): MergedTimings {
  const nodes = files
    .filter((f) => NODE_FILE.test(f.name.split("/").at(-1)!))
    .map((f) => parseNodeFile(f.name, f.text))
    .sort((a, b) => a.shardIndex - b.shardIndex || compareStrings(a.name, b.name));
  if (nodes.length === 0) {
    throw new PipelineError("TIMINGS_INVALID", `no node timings (shard-<i>-of-<n>.json) among ${files.length} file(s)${files.length ? `: ${files.slice(0, 5).map((f) => f.name).join(", ")}` : ""}`, {
      hint: "pass the folder that collects every node's test_results/timings (e.g. the CI workspace it was persisted to)",
    });
  }
  const problems: string[] = [];
  const [first] = nodes;
  for (const n of nodes) {
    if (n.shards !== first!.shards) problems.push(`${n.name} ran ${n.shards} shards, ${first!.name} ${first!.shards}`);
    else if (n.plan !== first!.plan) problems.push(`${n.name} planned differently from ${first!.name}`);
  }
  const seen = new Map<number, string>();
  for (const n of nodes) {
    if (seen.has(n.shardIndex)) problems.push(`shard ${n.shardIndex} twice: ${seen.get(n.shardIndex)} and ${n.name}`);
    seen.set(n.shardIndex, n.name);
  }
  if (problems.length) {
    throw new PipelineError("TIMINGS_INVALID", `the nodes' timings do not belong to one run: ${problems.join("; ")}`, {
      hint: "every node must plan with the same previous timings and spec files (restore the timings cache before the test step, and do not mix runs); rerun the workflow",
    });
  }
  const merged: Record<string, number> = {};
  for (const n of nodes) Object.assign(merged, n.timings);
  const missing = Array.from({ length: first!.shards }, (_, i) => i).filter((i) => !seen.has(i));
  const timingsJson = formatKnapsackTimings(merged);
  const entries = Object.keys(merged).length;
  const summary =
    `merged ${nodes.length} of ${first!.shards} shard(s): ${entries} timing entr${entries === 1 ? "y" : "ies"}` +
    (missing.length ? `; no timings from shard(s) ${missing.join(", ")}: their files get estimates next run` : "");
  return { timingsJson, summary };
}

function parseNodeFile(name: string, text: string): NodeTimingsFile & { name: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PipelineError("TIMINGS_INVALID", `${name} is not JSON: ${(err as Error).message}`, { hint: "pass the files test wrote to its report's timings/ folder, unchanged" });
  }
  const d = data as Partial<NodeTimingsFile>;
  const ok =
    d?.pipelineNodeTimings === 1 &&
    Number.isInteger(d.shardIndex) &&
    Number.isInteger(d.shards) &&
    d.shardIndex! >= 0 &&
    d.shardIndex! < d.shards! &&
    typeof d.plan === "string" &&
    typeof d.timings === "object" &&
    d.timings !== null &&
    Object.values(d.timings).every((v) => typeof v === "number" && Number.isFinite(v) && v >= 0);
  if (!ok) {
    throw new PipelineError("TIMINGS_INVALID", `${name} is not a node timings file (pipelineNodeTimings 1, shardIndex < shards, plan, timings of seconds)`, {
      hint: "pass the files test wrote to its report's timings/ folder, unchanged",
    });
  }
  return { ...(d as NodeTimingsFile), name };
}
