/**
 * The Dagger graph of `dagger call test`, recorded without an engine: what runs where.
 */
import { dag } from "@dagger.io/dagger";
import { beforeAll, describe, expect, it } from "vitest";
import { TestStrategy } from "../../modules/pipeline/src/test-strategy.js";
import { runTests } from "../../modules/pipeline/src/test-suite.js";
import { captureLog } from "../support/console.js";
import { countOf, installRecorder, lastPath, type Recorder } from "../support/dagger-recorder.js";

const SPECS = Array.from({ length: 20 }, (_, i) => `spec/models/m${String(i).padStart(2, "0")}_spec.rb`);
const TIMINGS = JSON.stringify(Object.fromEntries(SPECS.map((s, i) => [s, i + 1])));
const junitFor = (failures: number) =>
  `<?xml version="1.0"?><testsuite name="rspec" tests="2" failures="${failures}" errors="0" skipped="0" time="1.5">` +
  `<testcase classname="spec.models.m00_spec" name="works" file="./spec/models/m00_spec.rb" time="0.5"></testcase>` +
  `<testcase classname="spec.models.m01_spec" name="fails" file="./spec/models/m01_spec.rb" time="1.0">${failures ? '<failure message="expected 1 got 2" type="RSpec::Expectations::ExpectationNotMetError">spec/models/m01_spec.rb:7</failure>' : ""}</testcase></testsuite>`;

function answers(opts: { failShard?: number; hasTimings?: boolean; retriedShard?: number }) {
  const retried = (query: string) => /shard-(\d+)-of/.exec(query)?.[1] === String(opts.retriedShard);
  return (field: string, query: string): unknown => {
    const last = lastPath(query);
    switch (field) {
      case "exists":
        return ["Gemfile", "Gemfile.lock", "Dockerfile.base", "examples.json"].includes(last) || (last === "spec/timings.json" && opts.hasTimings !== false);
      case "glob":
        return SPECS;
      case "size":
        return 1000;
      case "entries":
        return ["junit.xml", "rspec.json", "seconds", "batches.json", ...Array.from({ length: 40 }, (_, id) => `batch-${id}.xml`), ...(retried(query) ? ["attempts", "junit-retry-1.xml", "retry-seconds"] : [])];
      case "exitCode": {
        const shard = /shard-(\d+)-of/.exec(query)?.[1];
        // A retried shard's script exits with its last attempt's code: the retry passed.
        return shard !== undefined && Number(shard) === opts.failShard && !retried(query) ? 1 : 0;
      }
      case "contents": {
        if (last === "Dockerfile.base") return "ARG RUBY_IMAGE\nFROM ${RUBY_IMAGE}\nRUN bundle config set --local without 'development test' # remove-for-dev\nRUN bundle install\n";
        if (last === "spec/timings.json") return TIMINGS;
        if (last === "junit.xml") return junitFor(/shard-(\d+)-of/.exec(query)?.[1] === String(opts.failShard) ? 1 : 0);
        if (last === "rspec.json") return JSON.stringify({ examples: [{ id: "./spec/models/m00_spec.rb[1:1]", file_path: "./spec/models/m00_spec.rb", run_time: 0.5 }] });
        if (last === "seconds") return "2.5\n";
        if (last === "attempts") return "1\n";
        if (last === "batches.json") {
          // Queue mode: worker i finished the batches whose id is i modulo 4.
          const worker = Number(/worker-(\d+)/.exec(query)?.[1] ?? -1);
          const ids = Array.from({ length: 40 }, (_, id) => id).filter((id) => id % 4 === worker);
          return JSON.stringify({ worker: `worker-${worker}`, batches: ids.map((id) => ({ id, units: [SPECS[id % SPECS.length]], seconds: 1, exitCode: 0 })) });
        }
        if (/^batch-\d+\.xml$/.test(last)) {
          const spec = SPECS[Number(/\d+/.exec(last)![0]) % SPECS.length]!;
          return `<testsuite name="rspec" tests="1"><testcase classname="c" name="${spec} works" file="./${spec}" time="1"/></testsuite>`;
        }
        if (last === "examples.json") return '{"examples": [{"id":"spec/models/m03_spec.rb[1:2]","verdict":"failed"},{"id":"spec/models/m04_spec.rb[1:1]","verdict":"passed"}]}\n';
        if (last === "retry-seconds") return "1.2\n";
        if (last === "junit-retry-1.xml") return junitFor(0).replace(/<testcase classname="spec.models.m00_spec".*?<\/testcase>/, "");
        return "gem 'rails'\n";
      }
      case "plaintext":
        return "ghp_secret_token";
    }
    return undefined;
  };
}

let rec: Recorder;
beforeAll(async () => {
  rec = await installRecorder(answers({}));
});

/** What runTests printed to the Dagger log (captured, so the test output stays free of summary tables). */
let printed: string[] = [];

async function record(opts: Parameters<typeof answers>[0], run: () => Promise<unknown>): Promise<string[]> {
  rec = await installRecorder(answers(opts));
  ({ printed } = await captureLog(run));
  // Whitespace in the SDK's query text is not meaningful: compare without it.
  return rec.expanded().map((q) => q.replace(/\s+/g, ""));
}

const shardExecs = (queries: string[]) => [...new Set(queries.filter((q) => q.includes('withExec(args:["bash","/pipeline/run-shard.sh"]')).map((q) => q.slice(0, q.lastIndexOf('withExec(args:["bash"'))))];

describe("dagger call test (recorded graph)", () => {
  it("runs 8 shards, each bound to its own postgres and redis", async () => {
    const queries = await record({}, () => runTests(dag.host().directory("/app"), { shards: 8, shardIndex: -1 }));
    const shards = shardExecs(queries);
    expect(shards).toHaveLength(8);
    for (let i = 0; i < 8; i++) {
      const shard = shards.find((q) => q.includes(`TEST_SHARD",value:"shard-${i}-of-8"`))!;
      expect(shard, `shard ${i}`).toBeDefined();
      // its own services: the label names the shard inside both service definitions
      expect(countOf(shard, `io.pipeline.test-shard",value:"shard-${i}-of-8"`)).toBe(2);
      expect(shard).toMatch(/withServiceBinding\(alias:"postgres"/);
      expect(shard).toMatch(/withServiceBinding\(alias:"redis"/);
      expect(shard).toContain('from(address:"postgres:15")');
      expect(shard).toContain('from(address:"redis:7")');
    }
  });

  it("installs gems once: every shard starts from the same dev-variant base image build", async () => {
    const queries = await record({}, () => runTests(dag.host().directory("/app"), { shards: 8, shardIndex: -1 }));
    const builds = new Set<string>();
    for (const q of shardExecs(queries)) {
      const m = /(dockerBuild\(.*?\))/.exec(q);
      expect(m, "shard without a base-image build").not.toBeNull();
      builds.add(q.slice(0, q.indexOf("dockerBuild")) + m![1]);
    }
    expect(builds.size).toBe(1);
    const build = [...builds][0]!;
    expect(build).toContain('dockerfile:".pipeline/Dockerfile.base.dev"');
    expect(build).toContain('RUBY_IMAGE",value:"ruby:3.1.4"');
    const joined = queries.join("\n");
    expect(joined).not.toContain("remove-for-dev"); // the dev variant drops those lines
    expect(joined).not.toContain('withExec(args:["bundle","install"');
  });

  it("runs only the asked shard with --shard-index", async () => {
    const queries = await record({}, () => runTests(dag.host().directory("/app"), { shards: 8, shardIndex: 3 }));
    const shards = shardExecs(queries);
    expect(shards).toHaveLength(1);
    expect(shards[0]).toContain("shard-3-of-8");
  });

  it("exports merged and per-shard JUnit, timings and summary; check fails on a failing example", async () => {
    let report: Awaited<ReturnType<typeof runTests>> | undefined;
    const queries = await record({ failShard: 2 }, async () => {
      report = await runTests(dag.host().directory("/app"), { shards: 4, shardIndex: -1 });
      await report.report.id();
    });
    const dir = queries.at(-1)!;
    for (const f of ["junit/merged.xml", "timings.json", "summary.txt", "plan.json", "junit/shard-0.xml", "junit/shard-3.xml"]) {
      expect(dir).toContain(`withNewFile(path:"${f}"`);
    }
    expect(report!.failures).toBe(1);
    expect(printed).toEqual([report!.summary]); // the summary goes to the Dagger log once
    expect(report!.summary).toContain("FAILED");
    expect(report!.summary).toContain("spec/models/m01_spec.rb");
    expect(() => report!.check()).toThrow("[TESTS_FAILED]");
  });

  it("--retries: the shard script reruns failures; an example that passes on a retry is flaky, failing check only with --fail-on-flaky", async () => {
    let report: Awaited<ReturnType<typeof runTests>> | undefined;
    const queries = await record({ failShard: 1, retriedShard: 1 }, async () => {
      report = await runTests(dag.host().directory("/app"), { shards: 2, shardIndex: -1, retries: 2 });
    });
    expect(queries.join("\n")).toContain("retry.rb\\\"\\\"$out\\\"2");
    expect(report!.failures).toBe(0);
    expect(report!.flaky).toBe(1);
    expect(report!.summary).toContain("Flaky: failed, then passed on a retry (1)");
    expect(report!.check()).toContain("1 flaky");
    expect(() => report!.check(true)).toThrow("[TESTS_FAILED] 1 flaky example(s) with --fail-on-flaky");
  });

  it("--strategy queue: one queue service bound to every shard, each shard a queue worker with its own postgres and redis", async () => {
    let report: Awaited<ReturnType<typeof runTests>> | undefined;
    const queries = await record({}, async () => {
      report = await runTests(dag.host().directory("/app"), { shards: 4, shardIndex: -1, strategy: TestStrategy.queue });
      await report.report.id();
    });
    const shards = shardExecs(queries);
    expect(shards).toHaveLength(4);
    const queueOf = (q: string) => /withServiceBinding\(alias:"queue",service:(.*?asService\(args:\["ruby","\/pipeline\/queue\/server\.rb"[^)]*\))/.exec(q)?.[1];
    const services = new Set(shards.map(queueOf));
    expect(services.size).toBe(1); // the same definition: one queue for all workers
    const service = [...services][0]!;
    expect(service).toContain('io.pipeline.test-queue"');
    expect(service).toContain("withExposedPort(port:7878");
    expect(service).toContain('QUEUE_LEASE_SECONDS"');
    for (let i = 0; i < 4; i++) {
      const shard = shards.find((q) => q.includes(`TEST_SHARD",value:"shard-${i}-of-4"`))!;
      expect(countOf(shard, `io.pipeline.test-shard",value:"shard-${i}-of-4"`)).toBe(2);
      expect(shard).not.toContain("unknown-ids.rb"); // the catch-all is the queue's last batch, not a shard's job
      expect(shard).toContain(`queue-worker.rb\\"queue7878worker-${i}`.replace(/\\/g, "\\"));
    }
    expect(queries.at(-1)).toContain('withNewFile(path:"queue.json"');
    expect(report!.summary).toContain("PASSED");
    expect(report!.summary).toMatch(/^\s+0\s+\d+/m);
  });

  it("--strategy queue with --shard-index is an error (the queue needs every shard in one engine)", async () => {
    rec = await installRecorder(answers({}));
    await expect(runTests(dag.host().directory("/app"), { shards: 4, shardIndex: 1, strategy: TestStrategy.queue })).rejects.toThrow("--strategy queue runs every shard in this engine");
  });

  it("--only-failures --previous runs just the failed example ids", async () => {
    const queries = await record({}, () =>
      runTests(dag.host().directory("/app"), { shards: 4, shardIndex: -1, onlyFailures: true, previous: dag.host().directory("/test_results") }),
    );
    const scripts = shardExecs(queries).join("\n");
    expect(scripts).toContain("spec/models/m03_spec.rb[1:2]");
    expect(scripts).not.toContain("m04_spec.rb");
    expect(scripts).not.toContain("m00_spec.rb");
  });

  it("--only-failures without --previous is an error naming both flags", async () => {
    rec = await installRecorder(answers({}));
    await expect(runTests(dag.host().directory("/app"), { shards: 2, shardIndex: -1, onlyFailures: true })).rejects.toThrow("--only-failures needs --previous");
  });

  it("rejects --retries out of range before building anything", async () => {
    rec = await installRecorder(answers({}));
    await expect(runTests(dag.host().directory("/app"), { shards: 2, shardIndex: -1, retries: -1 })).rejects.toThrow("--retries -1 must be a whole number from 0 to 5");
    expect(rec.expanded().some((q) => q.includes("withExec"))).toBe(false);
  });

  it("passes check when every shard is green", async () => {
    let report: Awaited<ReturnType<typeof runTests>> | undefined;
    await record({}, async () => {
      report = await runTests(dag.host().directory("/app"), { shards: 2, shardIndex: -1 });
    });
    expect(report!.check()).toContain("PASSED");
  });

  it.each([
    ["--shards 0", { shards: 0, shardIndex: -1 }, "--shards 0 must be a whole number"],
    ["--shard-index 8 of 8", { shards: 8, shardIndex: 8 }, "--shard-index 8 is out of range for --shards 8"],
  ])("rejects %s before building anything", async (_name, opts, fragment) => {
    rec = await installRecorder(answers({}));
    await expect(runTests(dag.host().directory("/app"), opts)).rejects.toThrow(fragment);
    expect(rec.queries.some((q) => q.includes("dockerBuild"))).toBe(false);
  });
});
