/**
 * Properties of the shared CLI flag parser (issue #11 item 11, #13 item 7): any argv gives flags, a
 * help request or an ARGUMENT_INVALID error (never another exception); an integer flag reads exactly
 * the decimal integers in its range; a flag given twice is always refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HelpRequested, parseFlags } from "../../modules/pipeline/cli/args.js";
import { SHARDS_FLAGS } from "../../modules/pipeline/cli/shards.js";
import { PipelineError } from "../../modules/pipeline/src/lib/errors.js";
import { MAX_SHARDS } from "../../modules/pipeline/src/lib/shard-planner.js";
import { propertyParameters } from "../support/property.js";

const flagName = fc.constantFrom(...Object.keys(SHARDS_FLAGS), "help", "h", "nope", "");
const word = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer().map(String),
  fc.constantFrom("0x10", "1e3", "-1", "0", "64", "65", "100000000000", "=", "--", "-", "json", "text"),
);
const arg = fc.oneof(
  flagName.map((n) => `--${n}`),
  fc.tuple(flagName, word).map(([n, v]) => `--${n}=${v}`),
  flagName.map((n) => `-${n}`),
  word,
);

describe("parseFlags on arbitrary argv", () => {
  it("flags, help or ARGUMENT_INVALID, never another exception", () => {
    fc.assert(
      fc.property(fc.array(arg, { maxLength: 8 }), (argv) => {
        try {
          const flags = parseFlags(argv, SHARDS_FLAGS, { command: "cmd" });
          expect(Number.isInteger(flags.shards) && flags.shards >= 1 && flags.shards <= MAX_SHARDS).toBe(true);
        } catch (err) {
          if (err instanceof HelpRequested) return;
          expect(err).toBeInstanceOf(PipelineError);
          expect((err as PipelineError).code).toBe("ARGUMENT_INVALID");
          expect((err as PipelineError).message).toMatch(/^\[ARGUMENT_INVALID\] cmd: /);
        }
      }),
      propertyParameters(),
    );
  });

  it("--shards reads exactly the decimal integers from 1 to the cap", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -100, max: 200 }).map(String), fc.string({ maxLength: 8 })), (value) => {
        const decimal = /^[-+]?\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
        const valid = decimal !== undefined && decimal >= 1 && decimal <= MAX_SHARDS;
        let shards: number | undefined;
        try {
          shards = parseFlags(["--shards", value], SHARDS_FLAGS).shards;
        } catch (err) {
          if (!(err instanceof PipelineError)) throw err;
        }
        expect(shards).toBe(valid ? decimal : undefined);
      }),
      propertyParameters(),
    );
  });

  it("refuses any flag given twice", () => {
    fc.assert(
      fc.property(fc.constantFrom("timings", "shards", "source", "format"), fc.constantFrom("8", "json", "x"), fc.constantFrom("4", "text", "y"), (name, a, b) => {
        expect(() => parseFlags([`--${name}`, a, `--${name}=${b}`], SHARDS_FLAGS, { command: "cmd" })).toThrow(`cmd: --${name} is given 2 times`);
      }),
      propertyParameters(),
    );
  });
});
