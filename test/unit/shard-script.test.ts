import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { retryReportFiles } from "../../modules/pipeline/src/lib/retries.js";
import { RETRY_RB } from "../../modules/pipeline/src/lib/retry-script.js";
import { formatShardScript, SHARD_CLIENTS_SCRIPT, SHARD_EXIT, type ShardScriptInput } from "../../modules/pipeline/src/lib/shard-script.js";
import { shellQuote } from "../../modules/pipeline/src/lib/shell.js";

const base: ShardScriptInput = {
  shardIndex: 2,
  shardCount: 8,
  units: ["spec/models/loan_spec.rb", "spec/big_spec.rb[1:3:2]", "spec/big_spec.rb:42"],
  setupCommands: [["bundle", "exec", "rake", "db:create", "db:schema:load"]],
  outDir: "/tmp/out",
  postgres: { host: "postgres", port: 5432 },
  redis: { host: "redis", port: 6379 },
  readinessTimeoutSeconds: 2,
};

/** A folder of stand-in tools: only the script's control flow is under test here (the real tools run in test/integration). */
function fakeTools(behaviour: { pgReady?: boolean; setupExit?: number; rspecExit?: number; dryRunExit?: number }): { bin: string; log: string } {
  const bin = mkdtempSync(path.join(os.tmpdir(), "fake-tools-"));
  const log = path.join(bin, "calls.log");
  const tool = (name: string, body: string) => {
    writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  tool("pg_isready", `exit ${behaviour.pgReady === false ? 2 : 0}`);
  tool("redis-cli", "echo PONG");
  tool(
    "bundle",
    `if [ "$2" = rake ]; then exit ${behaviour.setupExit ?? 0}; fi
if [ "$3" = --dry-run ]; then echo '{"examples":[{"id":"./spec/big_spec.rb[1:3]","file_path":"./spec/big_spec.rb","line_number":9}]}' > "$7"; exit ${behaviour.dryRunExit ?? 0}; fi
while [ $# -gt 0 ]; do if [ "$1" = --out ]; then echo '<testsuite/>' > "$2"; fi; shift; done
exit ${behaviour.rspecExit ?? 0}`,
  );
  return { bin, log };
}

function run(input: ShardScriptInput, behaviour: Parameters<typeof fakeTools>[0]) {
  const { bin, log } = fakeTools(behaviour);
  const out = mkdtempSync(path.join(os.tmpdir(), "shard-out-"));
  const script = path.join(out, "shard.sh");
  writeFileSync(script, formatShardScript({ ...input, outDir: out }));
  const res = spawnSync("bash", [script], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: "utf8" });
  const calls = readFileSync(log, "utf8").trim().split("\n");
  return { ...res, out, calls };
}

describe("formatShardScript", () => {
  it("is valid bash", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "shard-syntax-"));
    writeFileSync(path.join(dir, "s.sh"), formatShardScript(base));
    expect(() => execFileSync("bash", ["-n", path.join(dir, "s.sh")])).not.toThrow();
  });

  it("passes every unit to rspec as one argument, with JUnit and progress output", () => {
    const r = run(base, {});
    expect(r.status).toBe(0);
    const rspec = r.calls.find((c) => c.includes("rspec"))!;
    expect(rspec).toBe(
      `bundle exec rspec --format RspecJunitFormatter --out ${r.out}/junit.xml --format json --out ${r.out}/rspec.json --format progress --force-color spec/models/loan_spec.rb spec/big_spec.rb[1:3:2] spec/big_spec.rb:42`,
    );
    expect(r.calls[0]).toBe("pg_isready -q -h postgres -p 5432");
    expect(r.calls.indexOf("bundle exec rake db:create db:schema:load")).toBeLessThan(r.calls.indexOf(rspec));
    expect(readFileSync(path.join(r.out, "exit-code"), "utf8").trim()).toBe("0");
    expect(Number(readFileSync(path.join(r.out, "seconds"), "utf8"))).toBeGreaterThanOrEqual(0);
  });

  it("records rspec's failure exit code instead of stopping early", () => {
    const r = run(base, { rspecExit: 1 });
    expect(r.status).toBe(1);
    expect(readFileSync(path.join(r.out, "exit-code"), "utf8").trim()).toBe("1");
    expect(readFileSync(path.join(r.out, "junit.xml"), "utf8")).toContain("testsuite");
  });

  it("fails with a distinct code when postgres never becomes ready", () => {
    const r = run(base, { pgReady: false });
    expect(r.status).toBe(SHARD_EXIT.SERVICE_NOT_READY);
    expect(r.stderr).toContain("pipeline: postgres not ready after 2s");
  });

  it("fails with a distinct code when a setup command fails", () => {
    const r = run(base, { setupExit: 3 });
    expect(r.status).toBe(SHARD_EXIT.SETUP_FAILED);
    expect(r.stderr).toContain("setup command failed: bundle exec rake db:create db:schema:load");
  });

  it("an empty shard writes an empty report and never runs the whole suite", () => {
    const r = run({ ...base, units: [] }, {});
    expect(r.status).toBe(0);
    expect(r.calls.some((c) => c.includes("rspec"))).toBe(false);
    expect(readFileSync(path.join(r.out, "junit.xml"), "utf8")).toContain('tests="0"');
  });
});

describe("catch-all for split files", () => {
  const input = { ...base, catchAll: [{ file: "spec/big_spec.rb", knownIds: ["spec/big_spec.rb[1:1]", "spec/big_spec.rb[1:2]"] }] };

  it("lists the split file's examples before rspec runs", () => {
    const r = run(input, {});
    const dry = r.calls.findIndex((c) => c.startsWith("bundle exec rspec --dry-run --format json"));
    const rspec = r.calls.findIndex((c) => c.includes("RspecJunitFormatter"));
    expect(dry).toBeGreaterThan(-1);
    expect(dry).toBeLessThan(rspec);
    expect(r.calls[dry]).toContain("spec/big_spec.rb");
    // [1:3] is not among the known ids: it is added to this shard's rspec arguments
    expect(r.calls[rspec]).toMatch(/spec\/big_spec\.rb\[1:3\]$/);
  });

  it("fails with a distinct code when the examples cannot be listed (never runs the file twice)", () => {
    const r = run(input, { dryRunExit: 1 });
    expect(r.status).toBe(SHARD_EXIT.LIST_EXAMPLES_FAILED);
    expect(r.stderr).toContain("could not list the examples of spec/big_spec.rb");
    expect(r.calls.some((c) => c.includes("RspecJunitFormatter"))).toBe(false);
  });
});

describe("shellQuote", () => {
  it.each([["plain"], ["spec/a b_spec.rb"], ["it's"], ["$(rm -rf /)"], ["a\nb"], ["[1:2]"], [""]])("round-trips %j through bash", (word) => {
    const echoed = execFileSync("bash", ["-c", `printf %s ${shellQuote(word)}`]).toString();
    expect(echoed).toBe(word);
  });
});

describe("SHARD_CLIENTS_SCRIPT (the test image's postgres and redis clients)", () => {
  /** Run the script with only the given stand-in tools on PATH (plus sh's own), recording apt-get calls. */
  function runWith(tools: string[]): { status: number | null; aptCalls: string[] } {
    const dir = mkdtempSync(path.join(os.tmpdir(), "shard-clients-"));
    const log = path.join(dir, "apt.log");
    writeFileSync(log, "");
    for (const tool of tools) {
      writeFileSync(path.join(dir, tool), tool === "apt-get" ? `#!/bin/sh\necho "apt-get $*" >> '${log}'\n` : "#!/bin/sh\nexit 0\n");
      chmodSync(path.join(dir, tool), 0o755);
    }
    const r = spawnSync("/bin/sh", ["-c", SHARD_CLIENTS_SCRIPT], { env: { PATH: `${dir}:/nonexistent` } });
    return { status: r.status, aptCalls: readFileSync(log, "utf8").trim().split("\n").filter(Boolean) };
  }

  it("runs no apt-get when the image has pg_isready and redis-cli (offline engines, images that carry them)", () => {
    // Seen on a real engine without network: an unconditional apt-get update/install failed every shard.
    expect(runWith(["pg_isready", "redis-cli", "apt-get"])).toEqual({ status: 0, aptCalls: [] });
  });

  it.each([
    { name: "both missing", tools: ["apt-get"] },
    { name: "redis-cli missing", tools: ["pg_isready", "apt-get"] },
  ])("installs them with apt-get when $name", ({ tools }) => {
    const r = runWith(tools);
    expect(r.status).toBe(0);
    expect(r.aptCalls).toEqual(["apt-get update -qq", "apt-get install -y -qq --no-install-recommends postgresql-client redis-tools"]);
  });
});

describe("formatShardScript with --retries (real ruby and rspec on a plain RSpec suite)", () => {
  /** A suite in a temp folder: one passing example, one failing once (a marker file), optionally one always failing; `bundle exec` runs the real tool. */
  function suite(opts: { alwaysFails?: boolean; loadError?: boolean }) {
    const app = mkdtempSync(path.join(os.tmpdir(), "retry-suite-"));
    const bin = path.join(app, "bin");
    execFileSync("mkdir", ["-p", bin, path.join(app, "spec")]);
    const tool = (name: string, body: string) => {
      writeFileSync(path.join(bin, name), `#!/usr/bin/env bash\necho "${name} $*" >> ${app}/calls.log\n${body}\n`);
      chmodSync(path.join(bin, name), 0o755);
    };
    tool("pg_isready", "exit 0");
    tool("redis-cli", "echo PONG");
    tool("bundle", 'if [ "$2" = rake ]; then exit 0; fi\nshift\nexec "$@"');
    const examples = [
      'it "passes" do\n  end',
      `it "fails once" do\n    marker = File.join(__dir__, "..", "seen")\n    first = !File.exist?(marker)\n    File.write(marker, "x")\n    expect(first).to be(false)\n  end`,
      ...(opts.alwaysFails ? ['it "always fails" do\n    expect(1).to eq(2)\n  end'] : []),
    ];
    writeFileSync(path.join(app, "spec/a_spec.rb"), opts.loadError ? "raise 'load error'\n" : `RSpec.describe "a" do\n  ${examples.join("\n  ")}\nend\n`);
    return { app, bin };
  }

  function runWith(retries: number, opts: Parameters<typeof suite>[0]) {
    const { app, bin } = suite(opts);
    const out = path.join(app, "out");
    const script = path.join(app, "shard.sh");
    writeFileSync(script, formatShardScript({ ...base, units: ["spec/a_spec.rb"], outDir: out, retries }));
    const res = spawnSync("bash", [script], { cwd: app, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, encoding: "utf8" });
    const calls = readFileSync(path.join(app, "calls.log"), "utf8").trim().split("\n").filter((c) => !c.includes("rake") && c.startsWith("bundle"));
    return { ...res, out, calls, attempts: readFileSync(path.join(out, "attempts"), "utf8").trim() };
  }

  it("reruns only the failed examples in one fresh process and exits 0 when they pass", () => {
    const r = runWith(2, {});
    expect(r.calls).toEqual([expect.stringContaining("bundle exec rspec"), expect.stringMatching(/^bundle exec ruby \S+\/retry\.rb \S+ 2$/)]);
    expect(r.attempts).toBe("1");
    const retried = JSON.parse(readFileSync(path.join(r.out, retryReportFiles(1).rspecJson), "utf8")).examples.map((e: { id: string }) => e.id);
    expect(retried).toEqual(["./spec/a_spec.rb[1:2]"]);
    expect(readFileSync(path.join(r.out, retryReportFiles(1).junit), "utf8")).toContain("fails once");
    expect(r.status).toBe(0);
  }, 60_000);

  it("runs every attempt in that one process, stops after --retries and exits with the failure", () => {
    const r = runWith(2, { alwaysFails: true });
    expect(r.calls).toHaveLength(2); // the first pass, then one retry process for both attempts
    expect(r.attempts).toBe("2");
    const second = JSON.parse(readFileSync(path.join(r.out, retryReportFiles(2).rspecJson), "utf8")).examples.map((e: { id: string }) => e.id);
    expect(second).toEqual(["./spec/a_spec.rb[1:3]"]);
    expect(r.status).toBe(1);
  }, 60_000);

  it("does not retry a failure outside examples (no failed example: a load error is no flake)", () => {
    const r = runWith(2, { loadError: true });
    expect(r.attempts).toBe("0");
    expect(existsSync(path.join(r.out, retryReportFiles(1).junit))).toBe(false);
    expect(r.status).toBe(1);
  }, 60_000);

  it("without --retries writes no retry step", () => {
    expect(formatShardScript(base)).not.toContain("retry.rb");
    expect(formatShardScript({ ...base, retries: 3 })).toContain('retry.rb" "$out" 3');
  });

  it("retry.rb writes the report files lib/retries.ts reads", () => {
    expect(RETRY_RB).toContain(retryReportFiles("#{attempt}").junit);
    expect(RETRY_RB).toContain(retryReportFiles("#{attempt}").rspecJson);
  });
});

describe("formatShardScript in queue mode", () => {
  const queued = { ...base, units: [], queue: { host: "queue", port: 7878, worker: "worker-2" } };

  it("runs one queue worker instead of rspec on units, even with no units", () => {
    const r = run(queued, {});
    expect(r.status).toBe(0);
    const worker = r.calls.find((c) => c.startsWith("bundle exec ruby"))!;
    expect(worker).toMatch(/^bundle exec ruby \S+\/queue-worker\.rb queue 7878 worker-2 \S+$/);
    expect(r.calls.some((c) => c.includes("rspec"))).toBe(false);
    expect(readFileSync(path.join(r.out, "queue-worker.rb"), "utf8")).toContain("RSpec::Core::Runner.run");
  });

  it("reports a worker killed by a signal as exit 1 (the engine fails an exec that exits 128+), keeping 137 in exit-code", () => {
    const r = run(queued, { rspecExit: 137 });
    expect(r.status).toBe(1);
    expect(readFileSync(path.join(r.out, "exit-code"), "utf8").trim()).toBe("137");
  });

  it("a static shard keeps rspec's exit code", () => {
    expect(run(base, { rspecExit: 1 }).status).toBe(1);
  });
});
