/**
 * The test services know their own server. A port chosen free can be taken by another process
 * before the server binds it; the old readiness probe (pg_isready, PING) then accepted the other
 * process's server and two shards silently shared one database (issue #12: `PG::ConnectionBad ...
 * terminating connection due to administrator command` when the other shard stopped "its" server).
 * The collision is made deterministic here by forcing the port of a server that is already running.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, ServiceBindError, startPostgres, startRedis, type RunningService } from "../support/services.js";

const run = promisify(execFile);
const started: RunningService[] = [];
const keep = <T extends RunningService>(s: T): T => (started.push(s), s);
afterAll(() => Promise.all(started.map((s) => s.stop())), 60_000);

/** Hands out the given ports in order, then fresh ones. */
function portsInOrder(...ports: number[]): () => Promise<number> {
  return async () => ports.shift() ?? freePort();
}

async function psql(url: string, sql: string): Promise<string> {
  const { stdout } = await run("psql", ["-X", "-A", "-t", url, "-c", sql]);
  return stdout.trim();
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args]);
  return stdout.trim();
}

describe("postgres for tests", () => {
  it("on a port another server holds, fails with a bind error instead of handing out the other server", async () => {
    const other = keep(await startPostgres({ createDatabase: true }));
    const attempt = startPostgres({ choosePort: async () => other.port, attempts: 2 });
    await expect(attempt).rejects.toBeInstanceOf(ServiceBindError);
    await expect(attempt).rejects.toThrow(`could not bind 127.0.0.1:${other.port}`);
  }, 60_000);

  it("retries on a fresh port and answers as itself, not as the server that held the first port", async () => {
    const other = keep(await startPostgres({ createDatabase: true }));
    await psql(other.url, "CREATE TABLE belongs_to_other (id int)");
    const mine = keep(await startPostgres({ createDatabase: true, choosePort: portsInOrder(other.port) }));
    expect(mine.port).not.toBe(other.port);
    expect(await psql(mine.url, "SELECT count(*) FROM pg_tables WHERE tablename = 'belongs_to_other'")).toBe("0");
    expect(await psql(other.url, "SELECT count(*) FROM pg_tables WHERE tablename = 'belongs_to_other'")).toBe("1");
  }, 60_000);
});

describe("redis for tests", () => {
  it("on a port another server holds, fails with a bind error instead of handing out the other server", async () => {
    const other = keep(await startRedis());
    const attempt = startRedis({ choosePort: async () => other.port, attempts: 2 });
    await expect(attempt).rejects.toBeInstanceOf(ServiceBindError);
    await expect(attempt).rejects.toThrow(`could not bind 127.0.0.1:${other.port}`);
  }, 60_000);

  it("retries on a fresh port and answers as itself", async () => {
    const other = keep(await startRedis());
    await redisCli(other.port, "SET", "owner", "other");
    const mine = keep(await startRedis({ choosePort: portsInOrder(other.port) }));
    expect(mine.port).not.toBe(other.port);
    expect(await redisCli(mine.port, "GET", "owner")).toBe("");
  }, 60_000);
});

describe("many instances at once", () => {
  it("every instance gets its own port and its own server", async () => {
    const [pgs, rediss] = await Promise.all([
      Promise.all(Array.from({ length: 4 }, () => startPostgres())),
      Promise.all(Array.from({ length: 6 }, () => startRedis())),
    ]);
    pgs.forEach(keep);
    rediss.forEach(keep);
    const ports = [...pgs, ...rediss].map((s) => s.port);
    expect(new Set(ports).size).toBe(ports.length);
    const names = await Promise.all(pgs.map((p) => psql(p.adminUrl, "SHOW cluster_name")));
    expect(new Set(names).size).toBe(pgs.length);
    const dirs = await Promise.all(rediss.map((r) => redisCli(r.port, "CONFIG", "GET", "dir")));
    expect(new Set(dirs).size).toBe(rediss.length);
  }, 120_000);
});
