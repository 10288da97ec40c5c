/**
 * `--only-failures --previous <report>`: the examples that failed last time, by example id, and the
 * units a plan gives them. Pure: the caller reads the previous report (the report directory's
 * `examples.json`, else its JUnit) and passes the text.
 */
import { PipelineError } from "./errors.js";
import { parseJUnit } from "./junit.js";
import { groupExampleIds, parseShardUnit, type ShardPlan } from "./shard-planner.js";
import { median, parseUnitKey, type ResolvedFileTiming } from "./timings.js";

export interface PreviousReport {
  /** Names the report in messages (`--previous test_results`). */
  source: string;
  /** `examples.json` of a report directory: ids and verdicts of every example. */
  examplesJson?: string;
  /** JUnit reports (a merged one, or one per shard) when there is no examples.json. */
  junit?: Array<{ name: string; xml: string }>;
}

export interface PreviousFailures {
  /** rspec units: example ids (`spec/a_spec.rb[1:2]`), `file:line`, or a whole file when nothing finer is known. */
  ids: string[];
  warnings: string[];
}

/** The failed examples of a previous run; a flaky one (it passed in the end) is not rerun. */
export function resolvePreviousFailures(previous: PreviousReport): PreviousFailures {
  const warnings: string[] = [];
  const ids = new Set<string>();
  if (previous.examplesJson !== undefined) {
    let examples: Array<{ id?: string; file?: string; verdict?: string; name?: string }>;
    try {
      examples = (JSON.parse(previous.examplesJson) as { examples: typeof examples }).examples;
      if (!Array.isArray(examples)) throw new Error("no examples array");
    } catch (err) {
      throw new PipelineError("ARGUMENT_INVALID", `--previous ${previous.source}: examples.json cannot be read (${err instanceof Error ? err.message : String(err)})`, {
        hint: "pass the report directory a previous `dagger call test ... report export --path <dir>` wrote, or a folder of its JUnit files",
      });
    }
    for (const e of examples.filter((x) => x.verdict === "failed")) add(ids, warnings, e.id, e.file, e.name, previous.source);
  } else {
    for (const report of previous.junit ?? []) {
      for (const c of parseJUnit(report.xml, report.name).cases) {
        if (c.status === "failed") add(ids, warnings, c.id ?? c.location, c.file, c.name, report.name);
      }
    }
  }
  return { ids: [...ids].sort(), warnings };
}

function add(ids: Set<string>, warnings: string[], id: string | undefined, file: string | undefined, name: string | undefined, source: string): void {
  if (id) ids.add(id);
  else if (file) {
    ids.add(file);
    warnings.push(`${source}: the failed example ${JSON.stringify(name ?? "")} has no id or line: its whole file ${file} reruns`);
  } else warnings.push(`${source}: the failed example ${JSON.stringify(name ?? "")} names no file: it cannot be rerun`);
}

/**
 * The files to plan, restricted to the failed examples: each file's examples are exactly its failed
 * ids (timed from history when known), or the whole file when a whole file failed. Failed ids of
 * files that no longer exist are dropped with a warning.
 */
export function restrictToExamples(files: readonly ResolvedFileTiming[], ids: readonly string[]): { files: ResolvedFileTiming[]; warnings: string[] } {
  const byFile = new Map<string, string[]>();
  for (const id of ids) {
    const { file, exampleId } = parseUnitKey(id);
    const list = byFile.get(file) ?? [];
    list.push(exampleId ?? file);
    byFile.set(file, list);
  }
  const existing = new Map(files.map((f) => [f.path, f]));
  const gone = [...byFile.keys()].filter((f) => !existing.has(f));
  const warnings = gone.length ? [`--only-failures: ${gone.length} failed file(s) no longer exist and are skipped: ${gone.slice(0, 5).join(", ")}`] : [];
  const out: ResolvedFileTiming[] = [];
  for (const [path, fileIds] of [...byFile].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const file = existing.get(path);
    if (!file) continue;
    if (fileIds.includes(path)) {
      out.push(file);
      continue;
    }
    const history = new Map((file.examples ?? []).map((e) => [e.id, e.seconds]));
    const fallback = median([...history.values()]) ?? file.seconds / Math.max(fileIds.length, 1);
    const examples = [...new Set(fileIds)].map((id) => ({ id, seconds: history.get(id) ?? fallback }));
    out.push({ path, estimated: file.estimated, seconds: examples.reduce((t, e) => t + e.seconds, 0), examples });
  }
  return { files: out, warnings };
}

/** Units made from restricted files: a whole-file unit becomes that file's failed ids. */
export function narrowUnitList(units: readonly string[], files: readonly ResolvedFileTiming[]): string[] {
  const idsOf = new Map(files.filter((f) => f.examples).map((f) => [f.path, f.examples!.map((e) => e.id)]));
  return units.flatMap((u) => (parseShardUnit(u).ids.length === 0 && idsOf.has(u) ? groupExampleIds(u, idsOf.get(u)!) : [u]));
}

/** A plan made from restricted files, narrowed to the failed ids (see narrowUnitList). */
export function narrowUnits(plan: ShardPlan, files: readonly ResolvedFileTiming[]): ShardPlan {
  const narrow = (units: string[]) => narrowUnitList(units, files);
  return {
    ...plan,
    shards: plan.shards.map((s) => ({ ...s, units: narrow(s.units) })),
    ...(plan.selected ? { selected: { ...plan.selected, units: narrow(plan.selected.units) } } : {}),
  };
}
