/**
 * The OCI existence check against a small in-process registry (node:http) that speaks the
 * distribution API's manifest HEAD and both auth challenges. The real docker-registry is exercised
 * in test/integration/images.test.ts.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { MANIFEST_MEDIA_TYPES } from "../../modules/pipeline/src/lib/image-ref.js";
import { describeNetworkError, OciRegistry } from "../../modules/pipeline/src/registry/oci.js";
import { unusedPort } from "../support/docker.js";

const DIGEST = "sha256:" + "cd".repeat(32);
const USER = "ci";
const PASSWORD = "hunter2-not-in-messages";
const TOKEN = "opaque-bearer-token";

type Mode = "open" | "basic" | "bearer" | "forbidden" | "broken" | "bearer-no-token" | "bearer-stranger" | "bearer-not-url" | "bearer-downgrade" | "basic-redirect";
interface Seen {
  method: string;
  url: string;
  accept?: string;
  authorization?: string;
}

let server: http.Server;
let base = "";
const seen: Seen[] = [];
/** Another host (another port is another origin): a realm pointing here must get nothing. */
let stranger: http.Server;
let strangerBase = "";
const strangerSeen: Seen[] = [];

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://x");
  seen.push({ method: req.method ?? "", url: url.pathname + url.search, accept: req.headers.accept, authorization: req.headers.authorization });
  const basicOk = req.headers.authorization === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
  // /<mode>/token is the token service of the bearer modes.
  const [, mode, ...rest] = url.pathname.split("/") as [string, Mode, ...string[]];
  if (rest[0] === "token") {
    if (!basicOk) return void res.writeHead(401).end();
    if (mode === "bearer-no-token") return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
    return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: TOKEN }));
  }
  // /<mode>/v2/<name>/manifests/<ref>
  const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec("/" + rest.join("/"));
  if (!m) return void res.writeHead(404).end();
  if (mode === "broken") return void res.writeHead(503).end();
  if (mode === "forbidden") return void res.writeHead(403).end();
  if ((mode === "basic" || mode === "basic-redirect") && !basicOk) return void res.writeHead(401, { "www-authenticate": 'Basic realm="test"' }).end();
  if (mode === "basic-redirect") return void res.writeHead(307, { location: `${strangerBase}/elsewhere` }).end();
  if ((mode === "bearer" || mode === "bearer-no-token") && req.headers.authorization !== `Bearer ${TOKEN}`) {
    return void res
      .writeHead(401, { "www-authenticate": `Bearer realm="${base}/${mode}/token",service="test-registry",scope="repository:${m[1]}:pull"` })
      .end();
  }
  const realms: Partial<Record<Mode, string>> = {
    "bearer-stranger": `${strangerBase}/token`,
    "bearer-not-url": "token-service",
    "bearer-downgrade": `${base}/bearer/token`,
  };
  if (realms[mode] !== undefined) return void res.writeHead(401, { "www-authenticate": `Bearer realm="${realms[mode]}",service="test-registry"` }).end();
  if (m[2] === "present") return void res.writeHead(200, { "docker-content-digest": DIGEST, "content-type": MANIFEST_MEDIA_TYPES[0] }).end();
  res.writeHead(404).end();
}

beforeAll(async () => {
  server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stranger = http.createServer((req, res) => {
    strangerSeen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: TOKEN }));
  });
  await new Promise<void>((r) => stranger.listen(0, "127.0.0.1", r));
  strangerBase = `http://127.0.0.1:${(stranger.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await new Promise<void>((r) => stranger.close(() => r()));
});

/** The test server routes by a path prefix; the client talks to host:port, so prefix via fetch. */
function registry(mode: Mode, creds?: { username: string; password: string }) {
  return new OciRegistry<string>({
    host: base.replace("http://", ""),
    username: creds?.username,
    readPassword: creds ? async () => creds.password : undefined,
    pushPassword: creds?.password,
    fetch: (input, init) => {
      const u = new URL(input);
      if (u.pathname.startsWith("/v2/")) u.pathname = `/${mode}${u.pathname}`;
      return fetch(u, init);
    },
  });
}

describe("OciRegistry.lookup", () => {
  it.each([
    ["open registry, present tag", "open" as Mode, undefined, "present", { exists: true, digest: DIGEST }],
    ["open registry, missing tag", "open" as Mode, undefined, "base-dev-missing", { exists: false }],
    ["basic auth with good credentials", "basic" as Mode, { username: USER, password: PASSWORD }, "present", { exists: true, digest: DIGEST }],
    ["bearer token flow with good credentials", "bearer" as Mode, { username: USER, password: PASSWORD }, "present", { exists: true, digest: DIGEST }],
    ["bearer token flow, missing tag", "bearer" as Mode, { username: USER, password: PASSWORD }, "nope", { exists: false }],
  ])("%s", async (_name, mode, creds, tag, expected) => {
    expect(await registry(mode, creds).lookup("team/rails-api", tag)).toEqual(expected);
  });

  it("sends HEAD with every manifest media type in Accept", async () => {
    seen.length = 0;
    await registry("open").lookup("rails-api", "present");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: "HEAD", url: "/open/v2/rails-api/manifests/present" });
    for (const type of MANIFEST_MEDIA_TYPES) expect(seen[0].accept).toContain(type);
  });

  it("asks the token service with basic credentials, the service and the challenge's scope, then reuses the token", async () => {
    seen.length = 0;
    const reg = registry("bearer", { username: USER, password: PASSWORD });
    await reg.lookup("rails-api", "present");
    await reg.lookup("rails-api", "other");
    const token = seen.find((s) => s.url.startsWith("/bearer/token"))!;
    expect(token.method).toBe("GET");
    expect(token.url).toContain("service=test-registry");
    expect(token.url).toContain("scope=repository%3Arails-api%3Apull");
    expect(token.authorization).toMatch(/^Basic /);
    // First lookup: HEAD (401), GET token, HEAD; the second reuses the bearer token: one HEAD.
    expect(seen.map((s) => s.method)).toEqual(["HEAD", "GET", "HEAD", "HEAD"]);
    expect(seen.at(-1)!.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it.each([
    ["basic auth, wrong password", "basic" as Mode, { username: USER, password: "wrong" }, /REGISTRY_AUTH_FAILED.*refused user "ci" for repository rails-api/s],
    ["basic auth, no credentials", "basic" as Mode, undefined, /REGISTRY_AUTH_FAILED.*anonymous access.*no credentials were given.*with-registry-auth/s],
    ["bearer, wrong password", "bearer" as Mode, { username: USER, password: "wrong" }, /REGISTRY_AUTH_FAILED.*token service .* answered 401/s],
    ["bearer, token service gives no token", "bearer-no-token" as Mode, { username: USER, password: PASSWORD }, /REGISTRY_AUTH_FAILED.*without a token/s],
    ["403 forbidden", "forbidden" as Mode, { username: USER, password: PASSWORD }, /REGISTRY_AUTH_FAILED.*403 Forbidden/s],
    ["server error", "broken" as Mode, undefined, /REGISTRY_UNREACHABLE.*answered HTTP 503/s],
  ])("%s: a clear error naming the registry", async (_name, mode, creds, message) => {
    const err = await registry(mode, creds).lookup("rails-api", "present").catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain(base.replace("http://", ""));
    expect((err as Error).message).not.toContain(PASSWORD);
    expect((err as Error).message).not.toContain(TOKEN);
  });

  // Issue #11 item 3: the password went to whatever host the realm named, over http too.
  it.each([
    ["a realm on another host", "bearer-stranger" as Mode, undefined, "is another host over http"],
    ["a realm that is not a URL", "bearer-not-url" as Mode, undefined, '"token-service" is not a URL'],
    ["an https registry whose realm is http", "bearer-downgrade" as Mode, "https" as const, "downgrades to http"],
  ])("%s: REGISTRY_AUTH_CHALLENGE_INVALID, and the password goes nowhere", async (_name, mode, scheme, fragment) => {
    seen.length = 0;
    strangerSeen.length = 0;
    let read = 0;
    const reg = new OciRegistry<string>({
      ...(scheme ? { scheme } : {}),
      host: base.replace("http://", ""),
      username: USER,
      readPassword: async () => {
        read++;
        return PASSWORD;
      },
      // With scheme "https" the client believes it speaks https to the registry; the test server is http.
      fetch: (input, init) => {
        const u = new URL(input);
        if (u.pathname.startsWith("/v2/")) u.pathname = `/${mode}${u.pathname}`;
        if (u.protocol === "https:") u.protocol = "http:";
        return fetch(u, init);
      },
    });
    const err = await reg.lookup("rails-api", "present").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe("REGISTRY_AUTH_CHALLENGE_INVALID");
    expect((err as Error).message).toContain(fragment);
    expect(strangerSeen).toEqual([]);
    expect(seen.filter((s) => s.authorization !== undefined)).toEqual([]);
    expect(read).toBe(0);
  });

  it("a redirect to another origin does not carry the credentials there", async () => {
    strangerSeen.length = 0;
    await registry("basic-redirect", { username: USER, password: PASSWORD }).lookup("rails-api", "present");
    expect(strangerSeen.map((s) => [s.url, s.authorization])).toEqual([["/elsewhere", undefined]]);
  });

  it("an unreachable registry: REGISTRY_UNREACHABLE with the connection error and what to check", async () => {
    const port = await unusedPort();
    const reg = new OciRegistry<string>({ host: `127.0.0.1:${port}` });
    await expect(reg.lookup("rails-api", "x")).rejects.toThrow(new RegExp(`REGISTRY_UNREACHABLE\\] registry 127\\.0\\.0\\.1:${port} cannot be reached .*ECONNREFUSED`));
    await expect(reg.lookup("rails-api", "x")).rejects.toThrow(/fix: check the registry host and port \(pipeline\.json registry\.host\)/);
  });

  it("a registry that does not answer in time is unreachable", async () => {
    const silent = http.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const reg = new OciRegistry<string>({ host: `127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 200 });
      await expect(reg.lookup("rails-api", "x")).rejects.toThrow(/REGISTRY_UNREACHABLE.*timed out/);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it("login: the push credentials only when both user and password were given", async () => {
    expect(await registry("basic", { username: USER, password: PASSWORD }).login()).toEqual({ username: USER, password: PASSWORD });
    expect(await registry("open").login()).toBeUndefined();
  });
});

describe("describeNetworkError", () => {
  it.each([
    ["timeout", Object.assign(new Error("x"), { name: "TimeoutError" }), "timed out"],
    ["undici cause", Object.assign(new TypeError("fetch failed"), { cause: { code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND reg.invalid" } }), "ENOTFOUND (getaddrinfo ENOTFOUND reg.invalid)"],
    ["plain error", new Error("boom"), "boom"],
  ])("%s", (_name, err, text) => {
    expect(describeNetworkError(err)).toBe(text);
  });
});
