/**
 * A local stand-in for the AWS endpoints the pipeline calls, for the engine tests: the module's AWS
 * SDK clients are pointed at it with `with-aws-endpoint --endpoint tcp://localhost:<port>` (a Dagger
 * Service tunnelled from this host), and so are the terragrunt stand-in's `terragrunt`/`aws`.
 *
 * - STS (AWS query protocol): AssumeRole, AssumeRoleWithWebIdentity, GetCallerIdentity answer fixed
 *   temporary credentials for the requested role.
 * - KMS (JSON 1.1): Encrypt and Decrypt with a reversible stand-in cipher (a blob is a KMS-shaped
 *   header, the key id and the plaintext XOR-ed with a fixed byte), so encrypt-value's token decrypts
 *   again with decrypt-env; a blob it did not make is refused as KMS would (InvalidCiphertextException).
 * - ECR and any other JSON 1.1 target: answered with an UnknownOperationException naming the target,
 *   and recorded, so a test sees which calls the pipeline made that the stub does not model.
 * - POST /_stand-in/record: the terragrunt stand-in image records each command it was asked to run.
 *
 * Every request is recorded without secrets (no Authorization header, no secret body fields).
 */
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface AwsCall {
  service: string;
  action: string;
  params: Record<string, string>;
}

export interface StandInRecord {
  tool: string;
  args: string[];
  cwd: string;
  imageVersion: string;
  region: string;
  hasAccessKey: boolean;
  hasSessionToken: boolean;
  runId: string;
}

export interface AwsStub {
  port: number;
  calls: AwsCall[];
  standIn: StandInRecord[];
  close(): Promise<void>;
}

/** Fixed temporary credentials the stub hands out (test values, not secrets of anything). */
export const STUB_CREDENTIALS = {
  accessKeyId: "ASIASTUBSTUBSTUBSTUB",
  secretAccessKey: "stub-secret-access-key-for-engine-tests",
  sessionToken: "stub-session-token-for-engine-tests",
};

const SECRET_FIELDS = new Set(["WebIdentityToken", "Plaintext", "CiphertextBlob"]);

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d) => (text += d));
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}

/** Blob header: version 1, blob type 2, as real KMS blobs begin (base64 "AQICAH..."). */
const BLOB_HEADER = Buffer.from([0x01, 0x02, 0x02, 0x00, 0x78]);
const XOR = 0x5a;

/** The stand-in cipher: header, key id length and key id, plaintext XOR-ed (reversible, not secret). */
export function stubEncrypt(keyId: string, plaintext: Buffer): Buffer {
  const key = Buffer.from(keyId, "utf8");
  return Buffer.concat([BLOB_HEADER, Buffer.from([key.length]), key, Buffer.from(plaintext.map((b) => b ^ XOR))]);
}

export function stubDecrypt(blob: Buffer): { keyId: string; plaintext: Buffer } | undefined {
  if (blob.length < BLOB_HEADER.length + 1 || !blob.subarray(0, BLOB_HEADER.length).equals(BLOB_HEADER)) return undefined;
  const len = blob[BLOB_HEADER.length]!;
  const keyStart = BLOB_HEADER.length + 1;
  return { keyId: blob.subarray(keyStart, keyStart + len).toString("utf8"), plaintext: Buffer.from(blob.subarray(keyStart + len).map((b) => b ^ XOR)) };
}

function kmsAnswer(action: string, input: Record<string, unknown>): { status: number; body: unknown } {
  if (action === "Encrypt") {
    const keyId = String(input.KeyId ?? "");
    return { status: 200, body: { CiphertextBlob: stubEncrypt(keyId, Buffer.from(String(input.Plaintext ?? ""), "base64")).toString("base64"), KeyId: keyId, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" } };
  }
  if (action === "Decrypt") {
    const opened = stubDecrypt(Buffer.from(String(input.CiphertextBlob ?? ""), "base64"));
    if (!opened) return { status: 400, body: { __type: "InvalidCiphertextException", message: "the engine tests' AWS stub did not make this ciphertext" } };
    return { status: 200, body: { Plaintext: opened.plaintext.toString("base64"), KeyId: opened.keyId, EncryptionAlgorithm: "SYMMETRIC_DEFAULT" } };
  }
  return { status: 400, body: { __type: "UnknownOperationException", message: `the engine tests' AWS stub does not model TrentService.${action}` } };
}

function stsXml(action: string, result: string): string {
  return `<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ResponseMetadata></${action}Response>`;
}

function credentialsXml(roleArn: string, session: string): string {
  const expiration = new Date(Date.now() + 3600_000).toISOString();
  const account = /^arn:aws:iam::(\d{12}):/.exec(roleArn)?.[1] ?? "000000000000";
  const role = roleArn.split("/").pop() ?? "role";
  return (
    `<Credentials><AccessKeyId>${STUB_CREDENTIALS.accessKeyId}</AccessKeyId><SecretAccessKey>${STUB_CREDENTIALS.secretAccessKey}</SecretAccessKey>` +
    `<SessionToken>${STUB_CREDENTIALS.sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
    `<AssumedRoleUser><AssumedRoleId>AROASTUB:${session}</AssumedRoleId><Arn>arn:aws:sts::${account}:assumed-role/${role}/${session}</Arn></AssumedRoleUser>`
  );
}

export async function startAwsStub(port = 0): Promise<AwsStub> {
  const calls: AwsCall[] = [];
  const standIn: StandInRecord[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      const text = await body(req);
      if (req.url === "/_stand-in/record" && req.method === "POST") {
        standIn.push(JSON.parse(text) as StandInRecord);
        res.writeHead(204).end();
        return;
      }
      const target = String(req.headers["x-amz-target"] ?? "");
      if (target) {
        // JSON 1.1 services (KMS: TrentService.*, ECR: AmazonEC2ContainerRegistry_V20150921.*).
        const [prefix, action = ""] = target.split(".");
        const service = prefix === "TrentService" ? "kms" : prefix!.startsWith("AmazonEC2ContainerRegistry") ? "ecr" : prefix!;
        const input = JSON.parse(text || "{}") as Record<string, unknown>;
        const params = Object.fromEntries(Object.entries(input).filter(([k]) => !SECRET_FIELDS.has(k)).map(([k, v]) => [k, JSON.stringify(v)]));
        calls.push({ service, action, params });
        if (service === "kms") {
          const answer = kmsAnswer(action, input);
          res.writeHead(answer.status, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify(answer.body));
          return;
        }
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1" }).end(JSON.stringify({ __type: "UnknownOperationException", message: `the engine tests' AWS stub does not model ${target}` }));
        return;
      }
      const form = new URLSearchParams(text);
      const action = form.get("Action") ?? "";
      const params = Object.fromEntries([...form.entries()].filter(([k]) => !SECRET_FIELDS.has(k)));
      // The web identity token itself is a secret: its hash says which token arrived.
      const token = form.get("WebIdentityToken");
      if (token) params.WebIdentityTokenSha256 = createHash("sha256").update(token).digest("hex");
      calls.push({ service: "sts", action, params });
      const roleArn = form.get("RoleArn") ?? "";
      const session = form.get("RoleSessionName") ?? "session";
      let xml: string;
      if (action === "AssumeRole" || action === "AssumeRoleWithWebIdentity") xml = stsXml(action, credentialsXml(roleArn, session));
      else if (action === "GetCallerIdentity") xml = stsXml(action, "<Arn>arn:aws:iam::000000000000:user/engine-tests</Arn><UserId>AIDASTUB</UserId><Account>000000000000</Account>");
      else {
        res.writeHead(400, { "content-type": "text/xml" }).end(`<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>stub: ${action}</Message></Error></ErrorResponse>`);
        return;
      }
      res.writeHead(200, { "content-type": "text/xml" }).end(xml);
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    calls,
    standIn,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
