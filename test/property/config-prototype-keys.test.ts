/**
 * Issue #11 item 4: a prototype key (`__proto__`, `constructor`, `prototype`) at ANY nesting path of
 * pipeline.json / pipeline.yaml is refused with its path, and never changes a value of the config
 * or of Object.prototype.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatPath } from "../../modules/pipeline/src/lib/config.js";
import { parseConfigText } from "../../modules/pipeline/src/lib/config-text.js";
import { thrown } from "../support/errors.js";
import { ProblemsError } from "../../modules/pipeline/src/lib/errors.js";
import { propertyParameters } from "../support/property.js";

/** Real config keys (so the key lands where a merge would use it) mixed with arbitrary ones. */
const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype"];

const segment = fc.oneof(
  fc.constantFrom("registry", "images", "test", "environments", "dev", "prod", "infraLive", "units", "feature", "extraInputs", "refs", "secrets"),
  fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !PROTOTYPE_KEYS.includes(k)),
  fc.nat({ max: 3 }),
);

const payload = fc.oneof(
  fc.constant({ host: "evil.example.com:5000" }),
  fc.constant({ registry: { host: "evil.example.com:5000" } }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** JSON text placing `"<key>": <payload>` at `path` (arrays padded with nulls up to the index). */
function nestedJson(path: readonly (string | number)[], key: string, value: unknown): string {
  let text = `{${JSON.stringify(key)}:${JSON.stringify(value)}}`;
  for (const seg of [...path].reverse()) {
    text = typeof seg === "number" ? `[${"null,".repeat(seg)}${text}]` : `{${JSON.stringify(seg)}:${text}}`;
  }
  return text;
}

describe("prototype keys in the pipeline config (property)", () => {
  it("are refused at any path, in JSON and YAML, naming the path; nothing is polluted", () => {
    fc.assert(
      fc.property(
        fc.array(segment, { maxLength: 6 }),
        fc.constantFrom(...PROTOTYPE_KEYS),
        payload,
        fc.constantFrom("pipeline.json", "pipeline.yaml"),
        (path, key, value, source) => {
          // Keep the root an object, as a config file's is.
          const rooted = typeof path[0] === "number" ? ["test", ...path] : path;
          const text = nestedJson(rooted, key, value);
          const err = thrown(() => parseConfigText(text, source));
          expect(err).toBeInstanceOf(ProblemsError);
          expect((err as ProblemsError).code).toBe("CONFIG_INVALID");
          expect((err as ProblemsError).problems.map((p) => p.path)).toContain(formatPath([...rooted, key]));
          expect(Object.keys(Object.prototype)).toEqual([]);
          expect(({} as Record<string, unknown>).host).toBeUndefined();
        },
      ),
      propertyParameters(),
    );
  });
});
