/**
 * The test run's own output stays readable (issue #13 item 11): no AWS SDK Node-version warning per
 * test file. (The shard summary tables runTests prints are captured in test-graph.test.ts, the
 * bench's failing shards print a tail: test/support/shard-runner.ts.)
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { tail } from "../support/shard-runner.js";

afterEach(() => vi.restoreAllMocks());

describe("test output", () => {
  it("an AWS SDK client warns about nothing in the test environment", async () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => undefined);
    vi.resetModules();
    const { STSClient } = await import("@aws-sdk/client-sts");
    const client = new STSClient({ region: "us-east-1", credentials: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "x" } });
    client.destroy();
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([]);
  });

  it.each([
    ["a short output whole", "a\nb\n", 3, "a\nb"],
    ["a long output as its tail, saying how much was left out", Array.from({ length: 3400 }, (_, i) => `line ${i + 1}`).join("\n"), 2, "[... 3398 earlier line(s)]\nline 3399\nline 3400"],
  ])("a failing shard prints %s", (_name, output, lines, expected) => {
    expect(tail(output, lines)).toBe(expected);
  });
});
