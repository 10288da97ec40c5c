/**
 * The queue server and worker of lib/queue-ruby.ts, run for real with ruby and rspec-core on a
 * small plain-RSpec suite (no Rails): the order, the leases, a worker that dies mid-batch.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, mkdir, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { explainQueueRun, parseWorkerBatches, planQueue, type QueuePlan } from "../../modules/pipeline/src/lib/queue-plan.js";
import { QUEUE_WORKER_RB } from "../../modules/pipeline/src/lib/queue-ruby.js";
import { startQueueServer, type QueueServer } from "../support/queue-server.js";

let servers: QueueServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function serve(plan: QueuePlan, leaseSeconds = 600): Promise<QueueServer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "queue-server-"));
  const server = await startQueueServer(plan, dir, { leaseSeconds });
  servers.push(server);
  return server;
}

const files = (n: number, seconds = (i: number) => n - i) =>
  Array.from({ length: n }, (_, i) => ({ path: `spec/s${i}_spec.rb`, seconds: seconds(i), estimated: false }));

describe("queue server", () => {
  it("hands out batches in the planner's order, says wait while all are leased, done when all are complete", async () => {
    const plan = planQueue(files(3), { workers: 3, minBatchSeconds: 0 });
    const s = await serve(plan);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(((await s.ask({ op: "lease", worker: "w" })).batch as { id: number }).id);
    expect(ids).toEqual([0, 1, 2]);
    expect(await s.ask({ op: "lease", worker: "w" })).toEqual({ wait: 0.5 });
    for (const id of ids) expect(await s.ask({ op: "complete", worker: "w", batch: id })).toEqual({ ok: true });
    expect(await s.ask({ op: "lease", worker: "w" })).toEqual({ done: true });
  });

  it("counts a batch once: a second completion is refused", async () => {
    const s = await serve(planQueue(files(1), { workers: 1 }));
    await s.ask({ op: "lease", worker: "a" });
    expect(await s.ask({ op: "complete", worker: "a", batch: 0 })).toEqual({ ok: true });
    expect(await s.ask({ op: "complete", worker: "b", batch: 0 })).toEqual({ ok: false });
  });

  it("an expired lease comes back, in its place in the order", async () => {
    const s = await serve(planQueue(files(3), { workers: 3, minBatchSeconds: 0 }), 1);
    await s.ask({ op: "lease", worker: "dead" });
    await new Promise((r) => setTimeout(r, 1300));
    const next = await s.ask({ op: "lease", worker: "alive" });
    expect((next.batch as { id: number }).id).toBe(0);
  });

  it("release gives a worker's batches back at once", async () => {
    const s = await serve(planQueue(files(3), { workers: 3, minBatchSeconds: 0 }));
    await s.ask({ op: "lease", worker: "dead" });
    await s.ask({ op: "lease", worker: "dead" });
    await s.ask({ op: "release", worker: "dead" });
    expect(await s.ask({ op: "status" })).toEqual({ pending: [0, 1, 2], leased: {}, done: {} });
  });
});

describe("queue workers (plain RSpec suite)", () => {
  /** n spec files, each with one example that sleeps `sleep` seconds and writes which worker ran it. */
  async function suite(n: number, sleep: number): Promise<string> {
    const app = await mkdtemp(path.join(os.tmpdir(), "queue-suite-"));
    await mkdir(path.join(app, "spec"));
    for (let i = 0; i < n; i++) {
      await writeFile(path.join(app, `spec/s${i}_spec.rb`), `RSpec.describe "s${i}" do\n  it "works" do\n    sleep ${sleep}\n    expect(${i}).to eq(${i})\n  end\nend\n`);
    }
    return app;
  }

  function worker(app: string, port: number, name: string): { child: ChildProcess; out: string; done: Promise<number | null> } {
    const out = path.join(app, `out-${name}`);
    const child = spawn("bash", ["-c", `mkdir -p "$4" && cat > "$4/w.rb" && exec ruby "$4/w.rb" "$1" "$2" "$3" "$4"`, "_", "127.0.0.1", String(port), name, out], { cwd: app, stdio: ["pipe", "pipe", "pipe"] });
    child.stdin!.end(QUEUE_WORKER_RB);
    const done = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    return { child, out, done };
  }

  it("a file whose examples are unknown is listed by the worker that leases it and split into batches for all", async () => {
    const app = await mkdtemp(path.join(os.tmpdir(), "queue-split-"));
    await mkdir(path.join(app, "spec"));
    const body = Array.from({ length: 10 }, (_, i) => `  it "e${i}" do\n    sleep 0.2\n  end\n`).join("");
    await writeFile(path.join(app, "spec/big_spec.rb"), `RSpec.describe "big" do\n${body}end\n`);
    const plan = planQueue([{ path: "spec/big_spec.rb", seconds: 1, estimated: true }], { workers: 2 });
    expect(plan.batches).toEqual([{ id: 0, units: ["spec/big_spec.rb"], seconds: 1, split: { minExamples: 8, into: 2 } }]);
    const s = await serve(plan);
    const ws = [worker(app, s.port, "w0"), worker(app, s.port, "w1")];
    expect(await Promise.all(ws.map((w) => w.done))).toEqual([0, 0]);
    const ran = await Promise.all(ws.map(async (w) => parseWorkerBatches(await readFile(path.join(w.out, "batches.json"), "utf8"), w.out)));
    const explained = explainQueueRun(plan, ran);
    expect(explained.unfinished).toEqual([]);
    expect(explained.assignments.map((a) => a.batch).sort()).toEqual([1, 2]);
    const executed = (await Promise.all(ws.map(async (w) => JSON.parse(await readFile(path.join(w.out, "rspec.json"), "utf8")).examples as Array<{ id: string; run_time: number }>))).flat();
    expect(executed.map((e) => e.id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `./spec/big_spec.rb[1:${i + 1}]`).sort());
    // They really ran (each sleeps 0.2 s): the listing's --dry-run did not stay on.
    for (const e of executed) expect(e.run_time).toBeGreaterThan(0.15);
  }, 60_000);

  it("keeps the suite's own filters (spec_helper's filter_run_excluding) in every batch, not the batches' ids", async () => {
    const app = await mkdtemp(path.join(os.tmpdir(), "queue-filters-"));
    await mkdir(path.join(app, "spec"));
    await writeFile(path.join(app, "spec/spec_helper.rb"), `RSpec.configure { |c| c.filter_run_excluding :skip_me }\n`);
    for (let i = 0; i < 3; i++) {
      await writeFile(path.join(app, `spec/s${i}_spec.rb`), `require "spec_helper"\nRSpec.describe "s${i}" do\n  it "runs" do\n  end\n  it "is excluded", :skip_me do\n    raise "ran"\n  end\n  it "runs too" do\n  end\nend\n`);
    }
    const plan = planQueue(
      ["spec/s0_spec.rb[1:1]", "spec/s1_spec.rb", "spec/s2_spec.rb"].map((p, i) => ({ path: p, seconds: 3 - i, estimated: false })),
      { workers: 1, minBatchSeconds: 0 },
    );
    const s = await serve(plan);
    const w = worker(app, s.port, "w0");
    expect(await w.done).toBe(0);
    const ids = (JSON.parse(await readFile(path.join(w.out, "rspec.json"), "utf8")).examples as Array<{ id: string }>).map((e) => e.id).sort();
    expect(ids).toEqual(["./spec/s0_spec.rb[1:1]", "./spec/s1_spec.rb[1:1]", "./spec/s1_spec.rb[1:3]", "./spec/s2_spec.rb[1:1]", "./spec/s2_spec.rb[1:3]"]);
  }, 60_000);

  it("the catch-all's exclusion of known ids does not leak into the worker's later batches", async () => {
    const app = await mkdtemp(path.join(os.tmpdir(), "queue-catchall-"));
    await mkdir(path.join(app, "spec"));
    await writeFile(path.join(app, "spec/big_spec.rb"), `RSpec.describe "big" do\n  it "known" do\n  end\n  it "new" do\n  end\nend\n`);
    const plan: QueuePlan = {
      workers: 1,
      totalSeconds: 1,
      batches: [
        { id: 0, units: [], seconds: 0, catchAll: [{ file: "spec/big_spec.rb", knownIds: ["spec/big_spec.rb[1:1]"] }] },
        { id: 1, units: ["spec/big_spec.rb"], seconds: 1 },
      ],
    };
    const s = await serve(plan);
    const w = worker(app, s.port, "w0");
    expect(await w.done).toBe(0);
    const ids = (JSON.parse(await readFile(path.join(w.out, "rspec.json"), "utf8")).examples as Array<{ id: string }>).map((e) => e.id);
    expect(ids).toEqual(["./spec/big_spec.rb[1:2]", "./spec/big_spec.rb[1:1]", "./spec/big_spec.rb[1:2]"]);
  }, 60_000);

  it("two workers split the queue and each runs several batches in one process", async () => {
    const app = await suite(6, 0.2);
    const s = await serve(planQueue(files(6, () => 1), { workers: 2, minBatchSeconds: 0 }));
    const ws = [worker(app, s.port, "w0"), worker(app, s.port, "w1")];
    expect(await Promise.all(ws.map((w) => w.done))).toEqual([0, 0]);
    const ran = await Promise.all(ws.map(async (w) => parseWorkerBatches(await readFile(path.join(w.out, "batches.json"), "utf8"), "w")));
    expect(ran.flatMap((r) => r.batches.map((b) => b.id)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const r of ran) expect(r.batches.length).toBeGreaterThan(0);
    const examples = JSON.parse(await readFile(path.join(ws[0]!.out, "rspec.json"), "utf8")).examples;
    expect(examples.length).toBe(ran[0]!.batches.length);
  }, 60_000);

  it("a worker killed mid-batch: its batch comes back when the lease expires and runs on the other, exactly once", async () => {
    const app = await suite(4, 1.5);
    const s = await serve(planQueue(files(4, () => 1), { workers: 2, minBatchSeconds: 0 }), 3);
    const doomed = worker(app, s.port, "doomed");
    // Let the doomed worker lease its first batch, then kill it in the middle of it.
    const deadline = Date.now() + 20_000;
    while (Object.keys((await s.ask({ op: "status" })).leased as object).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    doomed.child.kill("SIGKILL");
    expect(await doomed.done).toBeNull();
    const survivor = worker(app, s.port, "survivor");
    expect(await survivor.done).toBe(0);
    const status = await s.ask({ op: "status" });
    expect(Object.keys(status.done as object).sort()).toEqual(["0", "1", "2", "3"]);
    expect(Object.values(status.done as object)).toEqual(["survivor", "survivor", "survivor", "survivor"]);
  }, 60_000);
});
