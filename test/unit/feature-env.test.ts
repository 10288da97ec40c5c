import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, parseConfig } from "../../modules/pipeline/src/lib/config.js";
import {
  featureEnvRoot,
  featureServiceName,
  planFeatureFiles,
  renderFeatureUnit,
} from "../../modules/pipeline/src/lib/feature-env.js";
import { getHclAttribute, setHclAttribute } from "../../modules/pipeline/src/lib/hcl.js";
import { featureImageTag } from "../../modules/pipeline/src/lib/refs.js";
import { parseHcl } from "../support/hcl-parse.js";

const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../golden/feature-env");
const SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const input = { featureName: "new-loan-flow", appTag: featureImageTag("new-loan-flow", SHA) };
const files = planFeatureFiles(DEFAULT_CONFIG, input);

/** Compare with test/golden/feature-env/<name>; UPDATE_GOLDEN=1 rewrites the golden file instead. */
function expectGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== "1") throw new Error(`golden file ${file} is missing: run UPDATE_GOLDEN=1 npx vitest run test/unit/feature-env.test.ts`);
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(actual, `differs from ${file} (UPDATE_GOLDEN=1 to accept)`).toBe(readFileSync(file, "utf8"));
}

describe("planFeatureFiles with the default (seed) config", () => {
  it("generates the six seed units at <unitsRoot>/<name>/<unit>/terragrunt.hcl", () => {
    expect(files.map((f) => f.file)).toEqual(
      ["postgres", "redis", "pgadmin", "api", "clockwork", "sidekiq"].map((u) => `dev/us-west-2/dev/apps/features/new-loan-flow/${u}/terragrunt.hcl`),
    );
    expect(featureEnvRoot(DEFAULT_CONFIG, "new-loan-flow")).toBe("dev/us-west-2/dev/apps/features/new-loan-flow");
  });

  it.each(["postgres", "redis", "pgadmin", "api", "clockwork", "sidekiq"])("%s matches its golden file and parses with hcl2json", async (unit) => {
    const f = files.find((x) => x.unit === unit)!;
    expectGolden(`${unit}.hcl`, f.text);
    const json = await parseHcl(f.text, f.file);
    expect(json).toHaveProperty("include.root");
    expect((json.inputs as Record<string, unknown>).feature_name).toBe("new-loan-flow");
  });

  it.each([
    { unit: "postgres", image: "postgres", tag: "15", port: 5432, flavor: undefined, deps: [] },
    { unit: "redis", image: "redis", tag: "7", port: 6379, flavor: undefined, deps: [] },
    { unit: "pgadmin", image: "rubysolo/pgadmin4-auto", tag: "latest", port: 80, flavor: undefined, deps: [] },
    { unit: "api", image: "004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api", tag: "feat-new-loan-flow-a1b2c3d", port: 8080, flavor: "server", deps: ["postgres", "redis"] },
    { unit: "clockwork", image: "004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api", tag: "feat-new-loan-flow-a1b2c3d", port: 8080, flavor: "scheduler", deps: ["postgres", "redis"] },
    { unit: "sidekiq", image: "004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api", tag: "feat-new-loan-flow-a1b2c3d", port: 8080, flavor: "worker", deps: ["postgres", "redis"] },
  ])("$unit: image $image:$tag, port $port, flavour $flavor, dependencies $deps (seen by the real parser)", async (c) => {
    const f = files.find((x) => x.unit === c.unit)!;
    expect(f).toMatchObject({ image: c.image, tag: c.tag, port: c.port, appImage: c.deps.length > 0 });
    const json = await parseHcl(f.text, f.file);
    expect(json.inputs).toEqual({
      feature_name: "new-loan-flow",
      service_name: `new-loan-flow-${c.unit}`,
      image: c.image,
      image_version: c.tag,
      port: c.port,
      ...(c.flavor ? { SERVER_FLAVOR: c.flavor } : {}),
    });
    const deps = (json.dependency ?? {}) as Record<string, { config_path: string }[]>;
    expect(Object.keys(deps).sort()).toEqual(c.deps);
    for (const d of c.deps) expect(deps[d]![0]!.config_path).toBe(`../${d}`);
  });

  it("a generated file can be retagged by the write-back editor", () => {
    const api = files.find((f) => f.unit === "api")!;
    const r = setHclAttribute(api.text, { name: "image_version", value: '"feat-new-loan-flow-0000000"', file: api.file });
    expect(r).toMatchObject({ changed: true, previous: '"feat-new-loan-flow-a1b2c3d"', scope: "inputs" });
  });

  it("is deterministic", () => {
    expect(planFeatureFiles(DEFAULT_CONFIG, input)).toEqual(files);
  });
});

describe("configuration", () => {
  it("uses the configured registry host, tag attribute and units", async () => {
    const config = parseConfig({
      registry: { host: "127.0.0.1:5000", repository: "acme/api" },
      infraLive: { variableName: "app_tag" },
      feature: {
        unitsRoot: "features",
        units: [
          { name: "db", kind: "dependency", image: "postgres", tag: "16" },
          { name: "web", kind: "service", image: "app", port: 3000, extraInputs: { REPLICAS: "2", ARGS: '["a", "b"]' } },
        ],
      },
    });
    const out = planFeatureFiles(config, { featureName: "Big-Thing", appTag: "feat-Big-Thing-abcdef0" });
    expect(out.map((f) => f.file)).toEqual(["features/Big-Thing/db/terragrunt.hcl", "features/Big-Thing/web/terragrunt.hcl"]);
    const web = await parseHcl(out[1]!.text);
    expect(web.inputs).toEqual({
      feature_name: "Big-Thing",
      service_name: "big-thing-web",
      image: "127.0.0.1:5000/acme/api",
      app_tag: "feat-Big-Thing-abcdef0",
      port: 3000,
      REPLICAS: 2,
      ARGS: ["a", "b"],
    });
    expect(Object.keys(web.dependency as object)).toEqual(["db"]);
    const db = await parseHcl(out[0]!.text);
    expect((db.inputs as Record<string, unknown>).port).toBeUndefined();
    expect(getHclAttribute(out[0]!.text, { name: "app_tag", file: "db" })?.value).toBe('"16"');
  });

  it.each([
    { name: "invalid feature name", featureName: "new/flow", appTag: "feat-x-1234567", code: "FEATURE_NAME_INVALID", fragment: '"new/flow" may contain only letters, digits and dashes' },
    { name: "invalid tag", featureName: "x", appTag: "feat x", code: "ARGUMENT_INVALID", fragment: 'app image tag "feat x"' },
  ])("rejects $name", ({ featureName, appTag, code, fragment }) => {
    expect(() => planFeatureFiles(DEFAULT_CONFIG, { featureName, appTag })).toThrowError(expect.objectContaining({ code, message: expect.stringContaining(fragment) }));
  });

  it("reports every bad extra input with its config path", () => {
    const config = parseConfig({
      feature: {
        units: [
          { name: "api", kind: "service", image: "app", extraInputs: { SERVER_FLAVOR: "worker\nx", image: '"x"', "bad key": "1" } },
        ],
      },
    });
    expect(() => planFeatureFiles(config, input)).toThrowError(
      expect.objectContaining({
        code: "CONFIG_INVALID",
        message: expect.stringMatching(/3 problems[\s\S]*extraInputs\.SERVER_FLAVOR: .*spans several lines[\s\S]*extraInputs\.image: image is set by the template[\s\S]*extraInputs\.bad key: is not an HCL identifier/),
      }),
    );
  });

  it("renders without dependencies or port", () => {
    const text = renderFeatureUnit({
      featureName: "f",
      unit: "u",
      serviceName: featureServiceName("f", "u"),
      image: "i",
      tag: "t",
      tagAttribute: "image_version",
      dependencies: [],
      extraInputs: {},
    });
    expect(text).not.toContain("dependency");
    expect(text).toContain('  image_version = "t"\n}\n');
  });
});
