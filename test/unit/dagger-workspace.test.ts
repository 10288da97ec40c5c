/**
 * DaggerWorkspace moves file BYTES (recorded graph, no engine). The engine sends `File.contents()` and
 * receives `withNewFile` contents as a GraphQL String, marshalled with Go's encoding/json, which turns
 * bytes that are not UTF-8 into U+FFFD (engine dagql/types.go `String.MarshalJSON`). So a Latin-1
 * comment would come back as EF BF BD and be pushed that way: such files must go through base64 in
 * the git container instead, and UTF-8 files must keep the plain text path (no extra exec).
 */
import { describe, expect, it } from "vitest";
import { DaggerWorkspace } from "../../modules/pipeline/src/infra-dagger.js";
import { installRecorder, type Recorder } from "../support/dagger-recorder.js";

const LATIN1 = Buffer.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a, 0x61, 0x20, 0x3d, 0x20, 0x31, 0x0a]); // "# café\na = 1\n" in Latin-1
const UTF8 = Buffer.from("# café ✓\r\na = 1\n", "utf8");

/** A git container whose checkout holds `bytes` at every path, answered the way the engine answers. */
async function engineHolding(bytes: Buffer): Promise<Recorder> {
  const rec: Recorder = await installRecorder((field, query) => {
    if (field === "exists") return true;
    // What the engine's JSON String gives for the file: invalid bytes replaced by U+FFFD.
    if (field === "contents") return new TextDecoder().decode(bytes);
    if (field === "stdout" && rec.expand(query).includes('"base64"')) return bytes.toString("base64").replace(/.{76}/g, "$&\n");
    return undefined;
  });
  return rec;
}

const workspace = () => new DaggerWorkspace({ image: "local/git:1", runId: "r1" });

describe("DaggerWorkspace file bytes", () => {
  it("reads a UTF-8 file through contents(), exactly, without an exec", async () => {
    const rec = await engineHolding(UTF8);
    const bytes = await workspace().readFile("dev/apps/x/terragrunt.hcl");
    expect(Buffer.from(bytes!).equals(UTF8)).toBe(true);
    expect(rec.queries.some((q) => q.includes("withExec"))).toBe(false);
  });

  it("reads a file that is not UTF-8 through base64 in the container, byte for byte", async () => {
    const rec = await engineHolding(LATIN1);
    const bytes = await workspace().readFile("dev/apps/x/terragrunt.hcl");
    expect(Buffer.from(bytes!).equals(LATIN1)).toBe(true);
    expect(rec.expanded().some((q) => q.includes('withExec (args: ["base64","/infra-live/dev/apps/x/terragrunt.hcl"]'))).toBe(true);
  });

  it("writes UTF-8 bytes with withNewFile as text", async () => {
    const rec = await engineHolding(UTF8);
    await workspace().writeFile("dev/apps/x/terragrunt.hcl", UTF8);
    const all = rec.expanded().join("\n");
    expect(all).toContain(`withNewFile (path: "/infra-live/dev/apps/x/terragrunt.hcl",contents: ${JSON.stringify(UTF8.toString("utf8"))}`);
    expect(all).not.toContain('"base64"');
  });

  it("writes bytes that are not UTF-8 by decoding base64 in the container into the file", async () => {
    const rec = await engineHolding(LATIN1);
    await workspace().writeFile("dev/apps/x/terragrunt.hcl", LATIN1);
    const all = rec.expanded().join("\n");
    expect(all).toContain(`withExec (args: ["base64","-d"],stdin: "${LATIN1.toString("base64")}",redirectStdout: "/infra-live/dev/apps/x/terragrunt.hcl"`);
    // No text rendering of the bytes (which would carry U+FFFD) reaches the engine.
    expect(all).not.toContain("\uFFFD");
    expect(all).not.toContain("\\ufffd");
  });
});
