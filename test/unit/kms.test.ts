import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { mockClient } from "aws-sdk-client-mock";
import {
  DecryptCommand,
  EncryptCommand,
  IncorrectKeyException,
  InvalidCiphertextException,
  KMSClient,
  KMSServiceException,
  NotFoundException,
  type DecryptCommandInput,
} from "@aws-sdk/client-kms";
import { PipelineError, ProblemsError } from "../../modules/pipeline/src/lib/errors.js";
import { formatEnvFile, parseEnvFile } from "../../modules/pipeline/src/lib/env-file.js";
import { decryptEnvFile, decryptEnvText, encryptValue, kmsPort, withRetry, type KmsPort } from "../../modules/pipeline/src/aws/kms.js";
import { createAwsClients } from "../../modules/pipeline/src/aws/credential-provider.js";

/** A KMS-shaped blob (base64 starts AQICAH) distinct per seed. */
function blob(seed: number): Uint8Array {
  const bytes = new Uint8Array(40);
  bytes.set([0x01, 0x02, 0x02, 0x00, 0x78]);
  for (let i = 5; i < bytes.length; i++) bytes[i] = (seed * 13 + i * 7) % 256;
  return bytes;
}
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

/** The plaintexts "in KMS": tests assert none of them ever shows up in an error or output. */
const PLAINTEXT: Record<string, string> = {
  [b64(blob(1))]: "pw-Alpha-7f3k",
  [b64(blob(2))]: "tok-Bravo-9q2z",
  [b64(blob(3))]: "key=Charlie==x",
};
const ALL_PLAINTEXTS = Object.values(PLAINTEXT);

const FILE_TEXT = [
  "# prod env",
  "RAILS_ENV=production",
  `DB_PASSWORD=kmscrypt::${b64(blob(1))}`,
  `GITHUB_TOKEN=kmscrypt::${b64(blob(2))}`,
  `DATABASE_URL=postgres://app:kmscrypt::${b64(blob(1))}@db:5432/app`,
  `export API_KEY=kmscrypt::${b64(blob(3))}`,
  "",
].join("\n");

const kmsMock = mockClient(KMSClient);
let port: KmsPort;
const noSleep = { sleep: async () => {}, random: () => 1 };

function plaintextFor(input: DecryptCommandInput): { Plaintext: Uint8Array } {
  const text = PLAINTEXT[b64(input.CiphertextBlob!)];
  if (text === undefined) throw new InvalidCiphertextException({ message: "unknown blob", $metadata: {} });
  return { Plaintext: new TextEncoder().encode(text) };
}

const awsError = (name: string, message = `${name} from AWS`) => new KMSServiceException({ name, $fault: "client", $metadata: {}, message });

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

beforeEach(() => {
  kmsMock.reset();
  // As in production: the KMS client comes from createAwsClients, whose redaction covers every AWS error.
  const credentials = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "x".repeat(40) };
  port = kmsPort(createAwsClients({ region: "us-west-2", credentials, clients: { kms: new KMSClient({ region: "us-west-2", credentials }) } }).kms());
});
afterEach(() => vi.restoreAllMocks());

describe("decryptEnvFile through KmsPort (aws-sdk-client-mock on a real KMSClient)", () => {
  it("decrypts every token, once per distinct ciphertext, and keeps the text around it", async () => {
    kmsMock.on(DecryptCommand).callsFake(plaintextFor);
    const file = parseEnvFile(FILE_TEXT, "config/prod.env");
    const out = await decryptEnvFile(file, port, { environment: "prod", region: "us-west-2" });
    expect(formatEnvFile(out)).toBe(
      [
        "RAILS_ENV=production",
        "DB_PASSWORD=pw-Alpha-7f3k",
        "GITHUB_TOKEN=tok-Bravo-9q2z",
        "DATABASE_URL=postgres://app:pw-Alpha-7f3k@db:5432/app",
        "API_KEY=key=Charlie==x",
        "",
      ].join("\n"),
    );
    const calls = kmsMock.commandCalls(DecryptCommand);
    expect(calls).toHaveLength(3);
    expect(calls.map((c) => b64(c.args[0].input.CiphertextBlob!)).sort()).toEqual(Object.keys(PLAINTEXT).sort());
    expect(calls[0]!.args[0].input.KeyId).toBeUndefined();
  });

  it("decryptEnvText parses, decrypts and renders", async () => {
    kmsMock.on(DecryptCommand).callsFake(plaintextFor);
    expect(await decryptEnvText(`A=1\nB=kmscrypt::${b64(blob(2))}\n`, "config/dev.env", port)).toBe("A=1\nB=tok-Bravo-9q2z\n");
  });

  it("a file without tokens makes no KMS call", async () => {
    const out = await decryptEnvFile(parseEnvFile("A=1\n", "config/dev.env"), port);
    expect(formatEnvFile(out)).toBe("A=1\n");
    expect(kmsMock.calls()).toHaveLength(0);
  });

  it("pins the key when asked", async () => {
    kmsMock.on(DecryptCommand).callsFake(plaintextFor);
    const pinned = kmsPort(new KMSClient({ region: "us-west-2" }), { decryptKeyId: "alias/prod-env" });
    await decryptEnvFile(parseEnvFile(`A=kmscrypt::${b64(blob(1))}\n`, "f.env"), pinned);
    expect(kmsMock.commandCalls(DecryptCommand)[0]!.args[0].input.KeyId).toBe("alias/prod-env");
  });

  it.each([
    {
      name: "access denied",
      error: () => awsError("AccessDeniedException", "User: arn:aws:sts::1:assumed-role/x is not authorized to perform: kms:Decrypt"),
      fragments: ["config/prod.env:3: DB_PASSWORD: access denied by KMS", "kms:Decrypt", "key policy", "(alias/prod-env)"],
    },
    {
      name: "wrong key",
      error: () => new IncorrectKeyException({ message: "incorrect key", $metadata: {} }),
      fragments: ["config/prod.env:3: DB_PASSWORD: the token was encrypted under a different KMS key", "wrong key", "encrypt-value --env prod"],
    },
    {
      name: "corrupted token / other region",
      error: () => new InvalidCiphertextException({ message: "", $metadata: {} }),
      fragments: ["DB_PASSWORD: KMS rejected the ciphertext: the token is corrupted", "region us-west-2 (environments.prod.region)"],
    },
    {
      name: "key not in this region",
      error: () => new NotFoundException({ message: "Key not found", $metadata: {} }),
      fragments: ["does not exist in us-west-2", "another region or account"],
    },
    { name: "disabled key", error: () => awsError("DisabledException"), fragments: ["disabled or pending deletion"] },
  ])("$name -> KMS_DECRYPT_FAILED naming the key and file:line", async ({ error, fragments }) => {
    kmsMock.on(DecryptCommand).callsFake((input: DecryptCommandInput) => {
      if (b64(input.CiphertextBlob!) === b64(blob(1))) throw error();
      return plaintextFor(input);
    });
    const err = await caught(decryptEnvFile(parseEnvFile(FILE_TEXT, "config/prod.env"), port, { environment: "prod", region: "us-west-2", keyId: "alias/prod-env", ...noSleep }));
    expect(err).toBeInstanceOf(ProblemsError);
    expect((err as ProblemsError).code).toBe("KMS_DECRYPT_FAILED");
    for (const f of fragments) expect(err.message).toContain(f);
    // The one bad ciphertext is used on lines 3 and 5: both keys are named, nothing else.
    expect((err as ProblemsError).problems.map((p) => p.path)).toEqual(["config/prod.env:3", "config/prod.env:5"]);
    expect(err.message).toContain("2 values could not be decrypted");
    expect(err.cause).toBeDefined();
    for (const p of ALL_PLAINTEXTS) expect(err.message + JSON.stringify((err as ProblemsError).problems)).not.toContain(p);
  });

  it("throttling: retries with exponential backoff, then succeeds", async () => {
    kmsMock
      .on(DecryptCommand)
      .rejectsOnce(awsError("ThrottlingException", "Rate exceeded"))
      .rejectsOnce(awsError("ThrottlingException", "Rate exceeded"))
      .rejectsOnce(awsError("ThrottlingException", "Rate exceeded"))
      .callsFake(plaintextFor);
    const sleeps: number[] = [];
    const out = await decryptEnvFile(parseEnvFile(`A=kmscrypt::${b64(blob(2))}\n`, "config/prod.env"), port, {
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 1,
      baseDelayMs: 100,
    });
    expect(formatEnvFile(out)).toBe("A=tok-Bravo-9q2z\n");
    expect(kmsMock.commandCalls(DecryptCommand)).toHaveLength(4);
    expect(sleeps).toEqual([100, 200, 400]);
  });

  it("throttling: backoff is capped and jittered", async () => {
    const sleeps: number[] = [];
    let n = 0;
    await withRetry(
      async () => {
        if (++n < 6) throw awsError("ThrottlingException");
        return "ok";
      },
      { attempts: 6, baseDelayMs: 100, maxDelayMs: 300, sleep: async (ms) => void sleeps.push(ms), random: () => 0 },
    );
    expect(sleeps).toEqual([50, 100, 150, 150, 150]);
  });

  it("throttling exhausted -> KMS_DECRYPT_FAILED after the bounded attempts", async () => {
    kmsMock.on(DecryptCommand).rejects(awsError("ThrottlingException", "Rate exceeded"));
    const err = await caught(decryptEnvFile(parseEnvFile(`TOKEN=kmscrypt::${b64(blob(2))}\n`, "config/prod.env"), port, { attempts: 3, ...noSleep }));
    expect((err as ProblemsError).code).toBe("KMS_DECRYPT_FAILED");
    expect(err.message).toContain("config/prod.env:1: TOKEN: KMS kept refusing (ThrottlingException) after 3 attempts");
    expect(err.message).toContain("lower --concurrency");
    expect(kmsMock.commandCalls(DecryptCommand)).toHaveLength(3);
  });

  it("non-retryable errors are not retried", async () => {
    kmsMock.on(DecryptCommand).rejects(new InvalidCiphertextException({ message: "", $metadata: {} }));
    await caught(decryptEnvFile(parseEnvFile(`T=kmscrypt::${b64(blob(2))}\n`, "f.env"), port, noSleep));
    expect(kmsMock.commandCalls(DecryptCommand)).toHaveLength(1);
  });

  it.each([
    { name: "default bound of 8", concurrency: undefined, expected: 8 },
    { name: "explicit bound of 3", concurrency: 3, expected: 3 },
    { name: "bound of 1 is sequential", concurrency: 1, expected: 1 },
  ])("concurrency: $name is respected and reached", async ({ concurrency, expected }) => {
    const lines: string[] = [];
    const plain = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const token = b64(blob(100 + i));
      lines.push(`K${i}=kmscrypt::${token}`);
      plain.set(token, `v${i}`);
    }
    let inFlight = 0;
    let maxInFlight = 0;
    kmsMock.on(DecryptCommand).callsFake(async (input: DecryptCommandInput) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
      return { Plaintext: new TextEncoder().encode(plain.get(b64(input.CiphertextBlob!))!) };
    });
    const out = await decryptEnvFile(parseEnvFile(lines.join("\n"), "f.env"), port, concurrency === undefined ? {} : { concurrency });
    expect(maxInFlight).toBe(expected);
    expect(out.entries.map((e) => e.value)).toEqual([...plain.values()]);
  });

  it("rejects a bad --concurrency", async () => {
    await expect(decryptEnvFile(parseEnvFile("A=1\n", "f.env"), port, { concurrency: 0 })).rejects.toThrow(/\[ARGUMENT_INVALID\] --concurrency 0/);
  });

  it("invalid tokens fail before any KMS call", async () => {
    const { scanEnvFile } = await import("../../modules/pipeline/src/lib/env-file.js");
    const { file } = scanEnvFile("A=kmscrypt::AQICAH\n", "config/prod.env");
    const err = await caught(decryptEnvFile(file, port));
    expect((err as PipelineError).code).toBe("ENV_FILE_INVALID");
    expect(err.message).toContain("config/prod.env:1: A holds a kmscrypt:: token");
    expect(kmsMock.calls()).toHaveLength(0);
  });

  it("refused credentials are reported once as AWS_CREDENTIALS_INVALID", async () => {
    kmsMock.on(DecryptCommand).rejects(awsError("UnrecognizedClientException", "The security token included in the request is invalid."));
    const err = await caught(decryptEnvFile(parseEnvFile(FILE_TEXT, "config/prod.env"), port, noSleep));
    expect((err as PipelineError).code).toBe("AWS_CREDENTIALS_INVALID");
    expect(err.message).toContain("KMS refused the credentials while decrypting config/prod.env (UnrecognizedClientException");
  });

  it("a pipeline error from the credential provider passes through unchanged", async () => {
    const roleError = new PipelineError("AWS_ASSUME_ROLE_FAILED", "not allowed to assume arn:aws:iam::1:role/x");
    kmsMock.on(DecryptCommand).rejects(roleError);
    expect(await caught(decryptEnvFile(parseEnvFile(FILE_TEXT, "config/prod.env"), port, noSleep))).toBe(roleError);
  });

  it("a plaintext that is not UTF-8 names the key only", async () => {
    kmsMock.on(DecryptCommand).resolves({ Plaintext: new Uint8Array([0xff, 0xfe, 0x41]) });
    const err = await caught(decryptEnvFile(parseEnvFile(`BIN=kmscrypt::${b64(blob(1))}\n`, "f.env"), port));
    expect(err.message).toContain("f.env:1: BIN: the decrypted value is not UTF-8 text");
  });

  it("a multi-line plaintext is refused, naming the key only", async () => {
    kmsMock.on(DecryptCommand).resolves({ Plaintext: new TextEncoder().encode("-----BEGIN-----\nsecret-body-XYZ") });
    const err = await caught(decryptEnvFile(parseEnvFile(`PEM=kmscrypt::${b64(blob(1))}\n`, "f.env"), port));
    expect(err.message).toContain("PEM at f.env:1: the decrypted value contains a line break");
    expect(err.message).not.toContain("secret-body-XYZ");
  });
});

describe("encryptValue through KmsPort", () => {
  it("encrypts under the key and returns a token that parses", async () => {
    kmsMock.on(EncryptCommand).resolves({ CiphertextBlob: blob(9) });
    const token = await encryptValue(port, "alias/prod-env", "hunter2-Delta\n");
    expect(token).toBe(`kmscrypt::${b64(blob(9))}`);
    const input = kmsMock.commandCalls(EncryptCommand)[0]!.args[0].input;
    expect(input.KeyId).toBe("alias/prod-env");
    expect(new TextDecoder().decode(input.Plaintext)).toBe("hunter2-Delta");
    expect(parseEnvFile(`X=${token}\n`, "f.env").entries[0]!.tokens[0]!.invalid).toBeUndefined();
  });

  it("retries throttling", async () => {
    kmsMock.on(EncryptCommand).rejectsOnce(awsError("ThrottlingException")).resolves({ CiphertextBlob: blob(9) });
    expect(await encryptValue(port, "alias/prod-env", "v", noSleep)).toMatch(/^kmscrypt::AQICAH/);
    expect(kmsMock.commandCalls(EncryptCommand)).toHaveLength(2);
  });

  it.each([
    { name: "empty", value: "", aws: undefined, code: "KMS_ENCRYPT_FAILED", fragment: "the value to encrypt is empty" },
    { name: "multi-line", value: "line1-Echo\nline2-Echo", aws: undefined, code: "KMS_ENCRYPT_FAILED", fragment: "contains a line break" },
    { name: "too large", value: "E".repeat(4097), aws: undefined, code: "KMS_ENCRYPT_FAILED", fragment: "4097 bytes; KMS encrypts at most 4096" },
    { name: "access denied", value: "s3cret-Foxtrot", aws: "AccessDeniedException", code: "KMS_ENCRYPT_FAILED", fragment: "access denied encrypting with alias/prod-env in us-west-2" },
    { name: "no such key", value: "s3cret-Foxtrot", aws: "NotFoundException", code: "KMS_ENCRYPT_FAILED", fragment: "environments.prod.kmsKeyId" },
    { name: "bad credentials", value: "s3cret-Foxtrot", aws: "ExpiredTokenException", code: "AWS_CREDENTIALS_INVALID", fragment: "KMS refused the credentials" },
  ])("$name", async ({ value, aws, code, fragment }) => {
    // An AWS message that echoed the value must not leak it either.
    if (aws) kmsMock.on(EncryptCommand).rejects(awsError(aws, `refused value ${value}`));
    const err = await caught(encryptValue(port, "alias/prod-env", value, { region: "us-west-2", environment: "prod", ...noSleep }));
    expect((err as PipelineError).code).toBe(code);
    expect(err.message).toContain(fragment);
    if (value) expect(err.message).not.toContain(value.slice(0, 12));
  });
});

describe("no plaintext reaches errors or output", () => {
  it("neither success nor failure writes plaintext to the console, stdout or stderr", async () => {
    const captured: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void captured.push(args.map(String).join(" ")));
    }
    const write = (chunk: unknown) => {
      captured.push(String(chunk));
      return true;
    };
    vi.spyOn(process.stdout, "write").mockImplementation(write as typeof process.stdout.write);
    vi.spyOn(process.stderr, "write").mockImplementation(write as typeof process.stderr.write);

    const errors: Error[] = [];
    kmsMock.on(DecryptCommand).callsFake(plaintextFor);
    const ok = await decryptEnvFile(parseEnvFile(FILE_TEXT, "config/prod.env"), port);
    expect(formatEnvFile(ok)).toContain(ALL_PLAINTEXTS[0]!); // the plaintext is in the result, and only there

    // Mixed: one token fails while the others decrypt; the error must not carry the others' plaintext.
    kmsMock.reset();
    kmsMock.on(DecryptCommand).callsFake((input: DecryptCommandInput) => {
      if (b64(input.CiphertextBlob!) === b64(blob(3))) throw awsError("AccessDeniedException");
      return plaintextFor(input);
    });
    errors.push(await caught(decryptEnvFile(parseEnvFile(FILE_TEXT, "config/prod.env"), port, noSleep)));
    kmsMock.reset();
    kmsMock.on(DecryptCommand).resolves({ Plaintext: new TextEncoder().encode(`${ALL_PLAINTEXTS[1]}\nmore`) });
    errors.push(await caught(decryptEnvFile(parseEnvFile(FILE_TEXT, "config/prod.env"), port, noSleep)));
    kmsMock.on(EncryptCommand).rejects(awsError("AccessDeniedException", `cannot encrypt ${ALL_PLAINTEXTS[2]}`));
    errors.push(await caught(encryptValue(port, "alias/prod-env", ALL_PLAINTEXTS[2]!, noSleep)));
    errors.push(await caught(encryptValue(port, "alias/prod-env", `${ALL_PLAINTEXTS[0]}\nsecond`, noSleep)));

    vi.restoreAllMocks();
    expect(errors).toHaveLength(4);
    const texts = errors.map((e) => [e.message, e.stack ?? "", JSON.stringify((e as Partial<ProblemsError>).problems ?? []), (e as PipelineError).hint ?? ""].join("\n"));
    for (const p of ALL_PLAINTEXTS) {
      for (const t of texts) expect(t).not.toContain(p);
      expect(captured.join("\n")).not.toContain(p);
    }
  });
});
