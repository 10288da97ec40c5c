/**
 * decrypt-env, encrypt-value and check-env wired to Dagger, recorded without an engine
 * (test/support/dagger-recorder) and with a fake KmsPort instead of AWS:
 * - the decrypted file leaves the module only through `setSecret` (never withEnvVariable, an exec
 *   argument, a label, a returned string, stdout/stderr or the console);
 * - the value to encrypt is a Secret argument and its plaintext is never in a query;
 * - check-env reports every problem of every file at file:line, without values.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { dag } from "@dagger.io/dagger";
import { DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { KmsPort } from "../../modules/pipeline/src/aws/kms.js";
import type { RunCredentials } from "../../modules/pipeline/src/run-credentials.js";
import { DEFAULT_CONFIG } from "../../modules/pipeline/src/lib/config.js";
import { collectTokens, parseEnvFile } from "../../modules/pipeline/src/lib/env-file.js";
import { PipelineError, ProblemsError } from "../../modules/pipeline/src/lib/errors.js";
import {
  checkEnvFiles,
  decryptedEnvSecretName,
  decryptEnvSecret,
  encryptValueToken,
  runCheckEnv,
  type KmsTarget,
  type SecretsDeps,
} from "../../modules/pipeline/src/secrets.js";
import { answerFromFiles, countOf, installRecorder, type Recorder } from "../support/dagger-recorder.js";
import { introspectModule, REPO_ROOT } from "../support/introspect.js";

const FIXTURE = path.join(REPO_ROOT, "test/fixtures/rails-api");
const fixture = (name: string) => readFileSync(path.join(FIXTURE, name), "utf8");
const PROD_ENV = fixture("config/prod.env");
const STAGE_ENV = fixture("config/stage.env");
const DEV_ENV = fixture("config/dev.env");
const MY_SECRET = "my-new-api-key-Zq93xVb7-do-not-print";
/** A KMS ciphertext blob (the bytes behind a kmscrypt:: token), as a fake KMS would return it. */
const FAKE_BLOB = Uint8Array.from(Buffer.from("AQICAHfakeciphertextblob0123456789abcdefgh==", "base64"));

const ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE";
const SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

let recorder: Recorder;
let files: Record<string, string> = {};

beforeAll(async () => {
  recorder = await installRecorder(
    answerFromFiles(() => files, { MY_SECRET, AWS_ACCESS_KEY_ID: ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY }),
  );
});

beforeEach(() => {
  recorder.reset();
  files = { "config/dev.env": DEV_ENV, "config/stage.env": STAGE_ENV, "config/prod.env": PROD_ENV };
});

/** A fake KMS: each ciphertext decrypts to a distinct, recognisable plaintext; calls are recorded. */
function fakeKms(options: { fail?: (blob: Uint8Array) => Error | undefined } = {}) {
  const plaintexts = new Map<string, string>();
  const targets: KmsTarget[] = [];
  const encrypts: Array<{ keyId: string; plaintext: string }> = [];
  const port: KmsPort = {
    async decrypt(blob) {
      const failure = options.fail?.(blob);
      if (failure) throw failure;
      const b64 = Buffer.from(blob).toString("base64");
      const plaintext = plaintexts.get(b64) ?? `PLAINTEXT-${plaintexts.size + 1}-x7Kq`;
      plaintexts.set(b64, plaintext);
      return new TextEncoder().encode(plaintext);
    },
    async encrypt(keyId, plaintext) {
      encrypts.push({ keyId, plaintext: new TextDecoder().decode(plaintext) });
      return FAKE_BLOB;
    },
  };
  const deps: SecretsDeps = {
    kms: async (target) => {
      targets.push(target);
      return port;
    },
  };
  return { deps, plaintexts, targets, encrypts };
}

const noCredentials = (): RunCredentials => ({ aws: {} });
const source = () => dag.directory();

/** The plaintext appears only inside setSecret(...) selections of the queries sent. */
function expectOnlyInSetSecret(queries: readonly string[], value: string): void {
  for (const q of queries) {
    const outside = q.replace(/setSecret \(name: "[^"]*",plaintext: "(?:[^"\\]|\\.)*"\)/g, "setSecret(<elided>)");
    expect(outside, `a query outside setSecret holds a plaintext: ${q.slice(0, 200)}`).not.toContain(value);
  }
}

/** What the setSecret query sent as plaintext (JSON-unescaped). */
function setSecretPlaintext(name: string): string {
  const q = recorder.queries.find((x) => x.includes(`setSecret (name: "${name}"`));
  expect(q, `a setSecret query named ${name}`).toBeDefined();
  const raw = /plaintext: ("(?:[^"\\]|\\.)*")/.exec(q!)![1]!;
  return JSON.parse(raw) as string;
}

/** Capture everything written to stdout, stderr and the console while `fn` runs. */
async function captureOutput<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; output: string }> {
  let output = "";
  const grab = (chunk: unknown) => {
    output += String(chunk);
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, "write").mockImplementation(grab),
    vi.spyOn(process.stderr, "write").mockImplementation(grab),
    ...(["log", "info", "warn", "error", "debug"] as const).map((m) => vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void grab(a.join(" ")))),
  ];
  try {
    return { result: await fn(), output };
  } catch (error) {
    return { error, output };
  } finally {
    spies.forEach((s) => s.mockRestore());
  }
}

afterEach(() => vi.restoreAllMocks());

describe("decrypt-env", () => {
  it("decrypts every token of config/prod.env with the prod region and key, and returns it only as a Secret", async () => {
    const kms = fakeKms();
    const secret = await decryptEnvSecret(source(), "prod", noCredentials(), kms.deps);
    await secret.id();

    expect(kms.targets).toEqual([{ environment: "prod", region: "us-west-2", keyId: "alias/prod-env" }]);
    const distinct = collectTokens(parseEnvFile(PROD_ENV, "config/prod.env")).size;
    expect(distinct).toBeGreaterThan(0);
    expect(kms.plaintexts.size).toBe(distinct);

    const sent = setSecretPlaintext(decryptedEnvSecretName("prod"));
    for (const plaintext of kms.plaintexts.values()) expect(sent).toContain(plaintext);
    expect(sent).not.toContain("kmscrypt::");
    // The rest of each line stays: plain values and the text around tokens.
    expect(sent).toContain("DATABASE_USERNAME=blinker_app\n");
    expect(sent).toMatch(/^DATABASE_PASSWORD=PLAINTEXT-\d+-x7Kq$/m);
    expect(sent).not.toMatch(/^#/m);

    for (const plaintext of kms.plaintexts.values()) expectOnlyInSetSecret(recorder.expanded(), plaintext);
    expect(countOf(recorder.queries.join("\n"), "setSecret (")).toBe(1);
    for (const forbidden of ["withEnvVariable", "withExec", "withLabel", "withNewFile"]) expect(recorder.queries.join("\n")).not.toContain(forbidden);
  });

  it("needs no KMS and no AWS credentials for a file without tokens (dev)", async () => {
    const kms = fakeKms();
    const secret = await decryptEnvSecret(source(), "dev", noCredentials(), kms.deps);
    await secret.id();
    expect(kms.targets).toEqual([]);
    // The default KMS would demand credentials; it is not reached either.
    const secret2 = await decryptEnvSecret(source(), "dev", noCredentials());
    await secret2.id();
    const sent = setSecretPlaintext(decryptedEnvSecretName("dev"));
    expect(sent).toContain("DATABASE_PASSWORD=dev-app-password\n");
    expect(sent).toContain("REDIS_URL=redis://redis:6379/0\n");
    expectOnlyInSetSecret(recorder.queries, "dev-app-password");
  });

  it("asks for AWS credentials, naming the builders, when tokens need KMS and none were given", async () => {
    await expect(decryptEnvSecret(source(), "prod", noCredentials())).rejects.toThrow(/\[AWS_CREDENTIALS_INVALID\] config\/prod\.env holds \d+ kmscrypt:: values[\s\S]*with-aws-credentials/);
  });

  it("names the KEY and file:line of each token KMS refuses, never a value", async () => {
    const file = parseEnvFile(PROD_ENV, "config/prod.env");
    const victim = file.entries.find((e) => e.tokens.length > 0)!;
    const denied = Buffer.from(victim.tokens[0]!.ciphertext, "base64").toString("base64");
    const kms = fakeKms({
      fail: (blob) =>
        Buffer.from(blob).toString("base64") === denied ? Object.assign(new Error("User is not authorized to perform kms:Decrypt"), { name: "AccessDeniedException" }) : undefined,
    });
    const { error, output } = await captureOutput(() => decryptEnvSecret(source(), "prod", noCredentials(), kms.deps));
    expect(error).toBeInstanceOf(ProblemsError);
    const message = (error as Error).message;
    expect((error as PipelineError).code).toBe("KMS_DECRYPT_FAILED");
    expect(message).toContain(`config/prod.env:${victim.line}: ${victim.key}: access denied`);
    for (const plaintext of kms.plaintexts.values()) {
      expect(message).not.toContain(plaintext);
      expect(output).not.toContain(plaintext);
    }
    expect(recorder.queries.join("\n")).not.toContain("setSecret");
  });

  it("reports malformed lines and invalid tokens at file:line before calling KMS", async () => {
    files["config/prod.env"] = "A=1\nthis is not an assignment\nDATABASE_PASSWORD=kmscrypt::AQICAH_url-safe_\n";
    const kms = fakeKms();
    const err = await decryptEnvSecret(source(), "prod", noCredentials(), kms.deps).catch((e: unknown) => e);
    expect((err as PipelineError).code).toBe("ENV_FILE_INVALID");
    expect((err as Error).message).toContain("config/prod.env:2");
    expect((err as Error).message).toContain("config/prod.env:3: DATABASE_PASSWORD");
    expect(kms.targets).toEqual([]);
  });

  it.each([
    ["an unknown environment", "qa", /ENVIRONMENT_UNKNOWN[\s\S]*--env "qa"/],
    ["a missing file", "stage", /SOURCE_FILE_MISSING[\s\S]*config\/stage\.env is missing/],
  ])("fails clearly for %s", async (_name, env, pattern) => {
    delete files["config/stage.env"];
    await expect(decryptEnvSecret(source(), env, noCredentials(), fakeKms().deps)).rejects.toThrow(pattern);
  });
});

describe("encrypt-value", () => {
  it("encrypts the Secret's value with the environment's key and returns the kmscrypt:: token", async () => {
    const kms = fakeKms();
    const token = await encryptValueToken(source(), "prod", dag.secret("env://MY_SECRET"), noCredentials(), kms.deps);
    expect(token).toBe(`kmscrypt::${Buffer.from(FAKE_BLOB).toString("base64")}`);
    expect(kms.encrypts).toEqual([{ keyId: "alias/prod-env", plaintext: MY_SECRET }]);
    expect(kms.targets).toEqual([{ environment: "prod", region: "us-west-2", keyId: "alias/prod-env" }]);
    // The value is read from the user's secret and never sent anywhere in a query.
    expect(recorder.queries.join("\n")).not.toContain(MY_SECRET);
    expect(recorder.queries.some((q) => q.includes('secret (uri: "env://MY_SECRET") { plaintext }'))).toBe(true);
  });

  it("uses the key of pipeline.json's environment", async () => {
    files["pipeline.json"] = JSON.stringify({ environments: { stage: { kmsKeyId: "arn:aws:kms:us-east-1:392216643236:key/abcd", region: "us-east-1" } } });
    const kms = fakeKms();
    await encryptValueToken(source(), "stage", dag.secret("env://MY_SECRET"), noCredentials(), kms.deps);
    expect(kms.encrypts[0]!.keyId).toBe("arn:aws:kms:us-east-1:392216643236:key/abcd");
    expect(kms.targets[0]!.region).toBe("us-east-1");
  });

  it("asks for AWS credentials when none were given", async () => {
    await expect(encryptValueToken(source(), "prod", dag.secret("env://MY_SECRET"), noCredentials())).rejects.toThrow(
      /AWS_CREDENTIALS_INVALID[\s\S]*encrypt-value --env prod needs AWS credentials/,
    );
  });
});

describe("the real KMS client (aws-sdk-client-mock)", () => {
  const kms = mockClient(KMSClient);
  const keys = (): RunCredentials => ({ aws: { accessKeyId: dag.secret("env://AWS_ACCESS_KEY_ID"), secretAccessKey: dag.secret("env://AWS_SECRET_ACCESS_KEY") } });
  beforeEach(() => kms.reset());

  it("decrypt-env uses the with-aws-credentials keys and the environment's region", async () => {
    kms.on(DecryptCommand).callsFake(async (input: { CiphertextBlob: Uint8Array }) => ({
      Plaintext: new TextEncoder().encode(`kms-${Buffer.from(input.CiphertextBlob).subarray(-6).toString("hex")}`),
    }));
    await (await decryptEnvSecret(source(), "prod", keys())).id();
    const calls = kms.commandCalls(DecryptCommand);
    expect(calls.length).toBe(collectTokens(parseEnvFile(PROD_ENV, "config/prod.env")).size);
    const client = calls[0]!.thisValue as KMSClient;
    expect(await client.config.region()).toBe("us-west-2");
    expect(await client.config.credentials()).toMatchObject({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY });
    const sent = setSecretPlaintext(decryptedEnvSecretName("prod"));
    expect(sent).toMatch(/^DATABASE_PASSWORD=kms-[0-9a-f]{12}$/m);
    for (const secret of [ACCESS_KEY_ID, SECRET_ACCESS_KEY]) expect(recorder.queries.join("\n")).not.toContain(secret);
  });

  it("encrypt-value sends the value to KMS Encrypt under the environment's key", async () => {
    kms.on(EncryptCommand).resolves({ CiphertextBlob: FAKE_BLOB });
    const token = await encryptValueToken(source(), "stage", dag.secret("env://MY_SECRET"), keys());
    expect(token).toBe(`kmscrypt::${Buffer.from(FAKE_BLOB).toString("base64")}`);
    const input = kms.commandCalls(EncryptCommand)[0]!.args[0].input;
    expect(input.KeyId).toBe("alias/stage-env");
    expect(new TextDecoder().decode(input.Plaintext)).toBe(MY_SECRET);
  });

  it("an access-denied token fails naming its KEY and file:line", async () => {
    kms.on(DecryptCommand).rejects(Object.assign(new Error("not authorized to perform kms:Decrypt"), { name: "AccessDeniedException" }));
    const err = (await decryptEnvSecret(source(), "prod", keys()).catch((e: unknown) => e)) as ProblemsError;
    expect(err.code).toBe("KMS_DECRYPT_FAILED");
    const firstToken = parseEnvFile(PROD_ENV, "config/prod.env").entries.find((e) => e.tokens.length > 0)!;
    expect(err.message).toContain(`config/prod.env:${firstToken.line}: ${firstToken.key}: access denied by KMS`);
  });
});

describe("no plaintext in the console", () => {
  it("decrypt-env and encrypt-value print nothing that holds a decrypted or encrypted value", async () => {
    const kms = fakeKms();
    const { output, error } = await captureOutput(async () => {
      await (await decryptEnvSecret(source(), "prod", noCredentials(), kms.deps)).id();
      await (await decryptEnvSecret(source(), "stage", noCredentials(), kms.deps)).id();
      return encryptValueToken(source(), "prod", dag.secret("env://MY_SECRET"), noCredentials(), kms.deps);
    });
    expect(error).toBeUndefined();
    expect(kms.plaintexts.size).toBeGreaterThan(0);
    for (const plaintext of [...kms.plaintexts.values(), MY_SECRET]) expect(output).not.toContain(plaintext);
  });
});

describe("check-env", () => {
  const config = DEFAULT_CONFIG;

  it("prints one ok line per file for the example app", async () => {
    const report = await checkEnvFiles(source(), config);
    const lines = report.split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ok +config\/dev\.env: dev, \d+ variables, 0 kmscrypt values$/);
    expect(lines[1]).toMatch(/^ok +config\/stage\.env: stage, \d+ variables, [1-9]\d* kmscrypt values?$/);
    expect(lines[2]).toMatch(/^ok +config\/prod\.env: prod, \d+ variables, [1-9]\d* kmscrypt values?$/);
  });

  it("lists every problem of every file at file:line in one error, and never a value", async () => {
    files["config/stage.env"] = "RAILS_ENV=production\nSTRIPE_SECRET_KEY=sk_live_abcdef123456\nGITHUB_TOKEN=ghp_plaintextvalue999\n";
    files["config/prod.env"] = "# prod\nDATABASE_PASSWORD=hunter2-prod\nAPI_TOKEN=kmscrypt::notbase64!\n";
    const err = await runCheckEnv(source()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProblemsError);
    const e = err as ProblemsError;
    expect(e.code).toBe("ENV_FILE_INVALID");
    expect(e.problems.map((p) => p.path)).toEqual(["config/stage.env:2", "config/stage.env:3", "config/prod.env:2", "config/prod.env:3"]);
    expect(e.message).toContain("config/stage.env:2: STRIPE_SECRET_KEY looks secret but holds a plaintext value");
    expect(e.message).toContain("config/prod.env:2: DATABASE_PASSWORD looks secret");
    expect(e.message).toContain("config/prod.env:3: API_TOKEN holds a kmscrypt:: token");
    expect(e.message).toContain("encrypt-value --env prod --value env:DATABASE_PASSWORD");
    for (const value of ["sk_live_abcdef123456", "ghp_plaintextvalue999", "hunter2-prod"]) expect(e.message).not.toContain(value);
  });

  it("fails with ENV_FILE_PLAINTEXT_SECRET when plaintext secrets are the only problem; dev may hold plaintext", async () => {
    files["config/dev.env"] = "DATABASE_PASSWORD=dev-password\n";
    files["config/prod.env"] = "SECRET_KEY_BASE=abc\n";
    const err = await runCheckEnv(source()).catch((e: unknown) => e);
    expect((err as PipelineError).code).toBe("ENV_FILE_PLAINTEXT_SECRET");
    expect((err as ProblemsError).problems.map((p) => p.path)).toEqual(["config/prod.env:1"]);
  });

  it("honours secrets.plaintextAllowList and secrets.secretKeyPatterns from pipeline.json", async () => {
    files["config/prod.env"] = "SECRET_KEY_BASE=abc\nSESSION_SALT=xyz\n";
    files["pipeline.json"] = JSON.stringify({ secrets: { plaintextAllowList: ["SECRET_KEY_BASE"], secretKeyPatterns: ["SALT"] } });
    const err = (await runCheckEnv(source(), { env: "prod" }).catch((e: unknown) => e)) as ProblemsError;
    expect(err.problems.map((p) => p.path)).toEqual(["config/prod.env:2"]);
    expect(err.message).toContain("SESSION_SALT");
  });

  it("--env checks that file only; a missing file fails then, and is skipped when checking all", async () => {
    files["config/stage.env"] = "SECRET_KEY_BASE=plaintext\n";
    expect(await runCheckEnv(source(), { env: "prod" })).toMatch(/^ok +config\/prod\.env/);
    expect(recorder.queries.join("\n")).not.toContain("config/stage.env");

    delete files["config/stage.env"];
    expect(await runCheckEnv(source())).toContain("skip config/stage.env: not in the source (stage)");
    await expect(runCheckEnv(source(), { env: "stage" })).rejects.toThrow(/SOURCE_FILE_MISSING[\s\S]*config\/stage\.env/);
    await expect(runCheckEnv(source(), { env: "qa" })).rejects.toThrow(/ENVIRONMENT_UNKNOWN/);
  });

  it("reads files only: no container, no exec, no secret", async () => {
    await checkEnvFiles(source(), config);
    const sent = recorder.queries.join("\n");
    for (const forbidden of ["container", "withExec", "setSecret"]) expect(sent).not.toContain(forbidden);
  });
});

describe("dagger call surface of the secrets and serve functions", () => {
  it("decrypt-env returns a Secret, encrypt-value takes the value as a Secret, check-env is a @check, serve returns a Service", async () => {
    const mod = await introspectModule();
    const fn = (name: string) => mod.objects.Pipeline!.methods[name]!;
    expect(fn("decryptEnv").returnType).toMatchObject({ kind: "OBJECT_KIND", name: "Secret" });
    expect(Object.keys(fn("decryptEnv").arguments)).toEqual(["source", "env"]);
    expect(fn("encryptValue").arguments.value!.type).toMatchObject({ kind: "OBJECT_KIND", name: "Secret" });
    expect(fn("encryptValue").returnType.kind).toBe("STRING_KIND");
    expect(fn("checkEnv").arguments.env).toMatchObject({ isOptional: true, type: { kind: "ENUM_KIND", name: "Environment" } });
    expect(fn("serve").returnType).toMatchObject({ kind: "OBJECT_KIND", name: "Service" });
    expect(fn("serve").arguments.env!.defaultValue).toBe("dev");
    expect(fn("serve").arguments.flavor!.defaultValue).toBe("server");
    expect(fn("serve").arguments.image!.isOptional).toBe(true);
    for (const name of ["decryptEnv", "encryptValue", "checkEnv", "serve"]) {
      expect(fn(name).arguments.source).toMatchObject({ defaultPath: "." });
    }

    // The JSON leaves out the @check flag: read it from the SDK's scanner in-process.
    const sdkEntry = new URL(import.meta.resolve("@dagger.io/dagger")).pathname;
    const { scan } = (await import(pathToFileURL(path.resolve(sdkEntry, "../module/introspector/index.js")).href)) as {
      scan: (files: string[], name: string, load: boolean) => Promise<{ objects: Record<string, { methods: Record<string, { isCheck: boolean }> }> }>;
    };
    const srcDir = path.join(REPO_ROOT, "modules/pipeline/src");
    const sources = readdirSync(srcDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => path.join(srcDir, f));
    const clientDir = mkdtempSync(path.join(tmpdir(), "scan-"));
    const client = path.join(clientDir, "client.gen.ts");
    copyFileSync(path.resolve(sdkEntry, "../api/client.gen.d.ts"), client);
    const scanned = await scan([...sources, client], "pipeline", false);
    expect(scanned.objects.Pipeline!.methods.checkEnv!.isCheck).toBe(true);
    expect(scanned.objects.Pipeline!.methods.serve!.isCheck).toBe(false);
  }, 120_000);
});
