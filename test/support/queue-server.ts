/**
 * The queue server of queue mode run locally: the very Ruby program the Dagger graph runs as a
 * service (lib/queue-ruby.ts), on a port the kernel picks (it binds port 0 and writes the port it
 * got to a file, so no other process can take it first).
 */
import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { formatQueueBatches, type QueuePlan } from "../../modules/pipeline/src/lib/queue-plan.js";
import { QUEUE_SERVER_RB } from "../../modules/pipeline/src/lib/queue-ruby.js";

const run = promisify(execFile);

export interface QueueServer {
  port: number;
  /** Ask the server (`status`, `release`, ...) the way a worker does. */
  ask(request: object): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startQueueServer(plan: QueuePlan, dir: string, options: { leaseSeconds?: number } = {}): Promise<QueueServer> {
  const batches = path.join(dir, "queue-batches.json");
  const script = path.join(dir, "queue-server.rb");
  const portFile = path.join(dir, "queue-port");
  await Promise.all([writeFile(batches, formatQueueBatches(plan)), writeFile(script, QUEUE_SERVER_RB)]);
  const child = spawn("ruby", [script, batches, "0", portFile], {
    env: { ...process.env, QUEUE_BIND: "127.0.0.1", QUEUE_LEASE_SECONDS: String(options.leaseSeconds ?? 600) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const deadline = Date.now() + 20_000;
  while (!existsSync(portFile) || (await readFile(portFile, "utf8")).trim() === "") {
    if (child.exitCode !== null) throw new Error(`the queue server exited (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) throw new Error(`the queue server did not start in 20 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const port = Number((await readFile(portFile, "utf8")).trim());
  const ask = async (request: object) => {
    const rb = `require "json"; require "socket"; s = TCPSocket.new("127.0.0.1", ${port}); s.puts(ARGV[0]); puts s.gets`;
    const { stdout } = await run("ruby", ["-e", rb, JSON.stringify(request)]);
    return JSON.parse(stdout) as Record<string, unknown>;
  };
  return {
    port,
    ask,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}
