import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, imageRepository, parseConfig, registryHost } from "../../modules/pipeline/src/lib/config.js";
import { parseConfigText, selectConfigFile } from "../../modules/pipeline/src/lib/config-text.js";
import { thrown } from "../support/errors.js";
import { ProblemsError, PipelineError } from "../../modules/pipeline/src/lib/errors.js";

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemsError);
    expect((err as ProblemsError).code).toBe("CONFIG_INVALID");
    return (err as ProblemsError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error("expected the config to be rejected");
}

describe("parseConfig", () => {
  it("defaults reproduce the seed flow", () => {
    const c = parseConfig(undefined);
    expect(imageRepository(c)).toBe("004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api");
    expect(c.environments.dev.awsAccountId).toBe("392216643236");
    expect(c.environments.prod.awsAccountId).toBe("872406820375");
    expect(c.environments.dev.eksClusterArn).toBe("arn:aws:eks:us-west-2:392216643236:cluster/eks-dev");
    expect(c.environments.prod.eksClusterArn).toBe("arn:aws:eks:us-west-2:872406820375:cluster/eks-prod");
    expect(c.environments.dev.infraLive.units.map((u) => u.path)).toEqual([
      "dev/us-west-2/dev/apps/clockwork",
      "dev/us-west-2/dev/apps/sidekiq",
      "dev/us-west-2/dev/apps/rails-api",
    ]);
    expect(c.environments.prod.devVariant).toBe(false);
    expect(c.test.shards).toBe(8);
    expect(c.feature.units.map((u) => u.name)).toEqual(["postgres", "redis", "pgadmin", "api", "clockwork", "sidekiq"]);
  });

  it("merges a partial config over the defaults (objects by key, arrays replace)", () => {
    const c = parseConfig({ registry: { host: "127.0.0.1:5000" }, test: { shards: 4 } });
    expect(registryHost(c)).toBe("127.0.0.1:5000");
    expect(c.registry.repository).toBe("rails-api");
    expect(c.test.shards).toBe(4);
    expect(c.test.postgresImage).toBe(DEFAULT_CONFIG.test.postgresImage);
  });

  it.each([
    ["short account id", { environments: { prod: { awsAccountId: "12345" } } }, "environments.prod.awsAccountId: expected 12 digits"],
    ["numeric account id", { registry: { awsAccountId: 4671295794 } }, "registry.awsAccountId:"],
    ["bad region", { environments: { dev: { region: "oregon" } } }, "environments.dev.region: expected an AWS region"],
    ["zero shards", { test: { shards: 0 } }, "test.shards: must be at least 1"],
    ["unknown key", { tset: {} }, "(root): unknown key tset"],
    ["nested unknown key", { test: { shard: 3 } }, "test: unknown key shard"],
    ["bad role arn", { environments: { stage: { roleArn: "auto-deploy" } } }, "environments.stage.roleArn: expected arn:aws:iam::"],
    ["absolute unit path", { environments: { dev: { infraLive: { units: [{ name: "api", path: "/etc" }] } } } }, "environments.dev.infraLive.units[0].path: must be a relative path"],
    ["no units", { environments: { dev: { infraLive: { units: [] } } } }, "environments.dev.infraLive.units: list at least one terragrunt unit"],
    ["bad rule", { refs: [{ match: "branch", name: "main", environment: "qa" }] }, "refs[0].environment:"],
  ])("rejects %s with its path", (_name, raw, expected) => {
    expect(problemsOf(raw).join("\n")).toContain(expected);
  });

  it.each([
    [
      "role in another account",
      { environments: { prod: { roleArn: "arn:aws:iam::392216643236:role/auto-deploy" } } },
      "environments.prod.roleArn: role is in account 392216643236 but the environment's awsAccountId is 872406820375",
    ],
    [
      "cluster in another account",
      { environments: { dev: { eksClusterArn: "arn:aws:eks:us-west-2:872406820375:cluster/eks-prod" } } },
      "environments.dev.eksClusterArn: cluster is in account 872406820375",
    ],
    [
      "duplicate unit",
      { environments: { dev: { infraLive: { units: [{ name: "api", path: "a" }, { name: "api", path: "b" }] } } } },
      "environments.dev.infraLive.units: unit api is listed twice",
    ],
    [
      "duplicate rule",
      { refs: [{ match: "branch", name: "main", environment: "dev" }, { match: "branch", name: "main", environment: "prod" }] },
      "refs[1]: repeats refs[0]",
    ],
  ])("rejects a contradictory config: %s", (_name, raw, expected) => {
    expect(problemsOf(raw).join("\n")).toContain(expected);
  });

  it("reports every problem at once, each with a fix", () => {
    try {
      parseConfig({ test: { shards: -1 }, environments: { prod: { awsAccountId: "x" } } });
      expect.unreachable();
    } catch (err) {
      const e = err as ProblemsError;
      expect(e.problems.length).toBeGreaterThanOrEqual(2);
      expect(e.message).toContain("[CONFIG_INVALID] pipeline.json is invalid: ");
      expect(e.message).toContain("environments.prod.awsAccountId: expected 12 digits (fix: use the 12-digit account number");
      expect(e.message).toContain("test.shards: must be at least 1 (fix: use a whole number between 1 and 64)");
    }
  });

  it.each([
    ["not an object", "[1,2]", "CONFIG_INVALID", "(root): expected an object, got an array"],
    ["broken JSON", '{"test": {shards: 3}}', "CONFIG_UNREADABLE", "pipeline.json is not valid JSON"],
  ])("parseConfigText rejects %s", (_name, text, code, fragment) => {
    expect(() => parseConfigText(text)).toThrow(fragment);
    try {
      parseConfigText(text);
    } catch (err) {
      expect((err as PipelineError).code).toBe(code);
    }
  });

  // Issue #11 item 4: each of these set registry.host through the prototype (exit 0) before.
  it.each([
    ["__proto__ under registry (JSON)", '{"registry":{"__proto__":{"host":"evil.example.com:5000"}}}', "pipeline.json", "registry.__proto__"],
    ["__proto__ at the root (JSON)", '{"__proto__":{"registry":{"host":"evil.example.com:5000"}}}', "pipeline.json", "__proto__"],
    ["__proto__ under registry (YAML)", "registry:\n  __proto__:\n    host: evil.example.com:5000\n", "pipeline.yaml", "registry.__proto__"],
    ["constructor inside a list item", '{"feature":{"units":[{"name":"api","kind":"service","image":"app","constructor":{"prototype":{}}}]}}', "pipeline.json", "feature.units[0].constructor"],
    ["prototype as a record key", '{"feature":{"units":[{"name":"api","kind":"service","image":"app","extraInputs":{"prototype":"1"}}]}}', "pipeline.json", "feature.units[0].extraInputs.prototype"],
  ])("refuses a prototype key: %s", (_name, text, source, path) => {
    const err = thrown(() => parseConfigText(text, source));
    expect(err).toBeInstanceOf(ProblemsError);
    expect((err as ProblemsError).code).toBe("CONFIG_INVALID");
    expect((err as ProblemsError).problems.map((p) => p.path)).toEqual([path]);
    expect((err as Error).message).toContain("is not allowed");
    expect(({} as Record<string, unknown>).host).toBeUndefined();
  });

  it("lists every prototype key at once", () => {
    const text = '{"registry":{"__proto__":{}},"test":{"constructor":1},"refs":[{"prototype":2}]}';
    expect(() => parseConfigText(text)).toThrow(ProblemsError);
    try {
      parseConfigText(text);
    } catch (err) {
      expect((err as ProblemsError).problems.map((p) => p.path)).toEqual(["refs[0].prototype", "registry.__proto__", "test.constructor"]);
    }
  });

  // Issue #11 item 11: `null` was taken as "no config" (the defaults), exit 0.
  it.each([
    ["JSON null", "null", "pipeline.json"],
    ["YAML null", "null\n", "pipeline.yaml"],
    ["YAML ~", "~\n", "pipeline.yml"],
  ])("refuses a config that is %s", (_name, text, source) => {
    expect(() => parseConfigText(text, source)).toThrow(`${source} is invalid: 1 problem\n  - (root): expected an object, got null`);
  });

  it("reads pipeline.yaml like pipeline.json", () => {
    const c = parseConfigText("registry:\n  host: 127.0.0.1:5000\ntest:\n  shards: 4\n", "pipeline.yaml");
    expect([c.registry.host, c.test.shards, c.registry.repository]).toEqual(["127.0.0.1:5000", 4, "rails-api"]);
  });

  it("an empty pipeline.yaml means the defaults", () => {
    expect(parseConfigText("# nothing yet\n", "pipeline.yml").test.shards).toBe(8);
  });

  it.each([
    ["broken YAML names line and column", "test:\n  shards: [4\n", "pipeline.yaml:3:1 is not valid YAML"],
    ["YAML values are validated like JSON", "test:\n  shards: zero\n", "test.shards:"],
  ])("%s", (_name, text, fragment) => {
    expect(() => parseConfigText(text, "pipeline.yaml")).toThrow(fragment);
  });
});

describe("selectConfigFile", () => {
  it.each([
    [[], undefined],
    [["pipeline.json"], "pipeline.json"],
    [["pipeline.yml"], "pipeline.yml"],
  ])("%j -> %s", (existing, chosen) => {
    expect(selectConfigFile(existing)).toBe(chosen);
  });

  it("refuses two config files at once", () => {
    expect(() => selectConfigFile(["pipeline.json", "pipeline.yaml"])).toThrow("the repository has pipeline.json and pipeline.yaml: only one pipeline config is read");
  });
});
