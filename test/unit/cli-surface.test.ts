/**
 * What `dagger call` will show, read by the SDK's own introspector. A renamed flag or a lost doc
 * breaks this test (and the CI configs, which test/unit/ci-configs.test.ts checks against it).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { introspectModule, type IntrospectedModule } from "../support/introspect.js";

let mod: IntrospectedModule;
beforeAll(async () => {
  mod = await introspectModule();
}, 120_000);

const fn = (name: string) => mod.objects.Pipeline.methods[name];

describe("dagger call surface", () => {
  it("is the pipeline module with class Pipeline", () => {
    expect(mod.name).toBe("Pipeline");
    expect(Object.keys(mod.objects)).toContain("Pipeline");
  });

  it("every function and argument has docs, and every function an Example: dagger call line", () => {
    const missing: string[] = [];
    for (const [objName, obj] of Object.entries(mod.objects)) {
      for (const [name, f] of Object.entries(obj.methods)) {
        if (!f.description.trim()) missing.push(`${objName}.${name}: no description`);
        else if (objName === "Pipeline" && !f.description.includes("Example: dagger call")) missing.push(`${objName}.${name}: no Example line`);
        for (const [argName, arg] of Object.entries(f.arguments)) {
          if (!arg.description.trim()) missing.push(`${objName}.${name}(${argName}): no description`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it("plan takes --branch, --tag, --sha, --env, --format and a --source defaulting to the example app", () => {
    const args = fn("plan").arguments;
    expect(Object.keys(args)).toEqual(["source", "branch", "tag", "sha", "env", "format", "checkRegistry"]);
    expect(args.source).toMatchObject({ defaultPath: "/test/fixtures/rails-api", type: { kind: "OBJECT_KIND", name: "Directory" } });
    expect(args.format.defaultValue).toBe("text");
    expect(fn("plan").returnType.kind).toBe("STRING_KIND");
  });

  it("credentials arrive only as secrets", () => {
    const secretArgs = [
      ["withAwsCredentials", "accessKeyId"],
      ["withAwsCredentials", "secretAccessKey"],
      ["withAwsCredentials", "sessionToken"],
      ["withAwsCredentials", "credentialsFile"],
      ["withAwsWebIdentity", "token"],
      ["withGithubToken", "token"],
      ["withRegistryAuth", "password"],
      ["withGitCredentials", "sshKey"],
      ["withGitCredentials", "token"],
    ];
    for (const [f, a] of secretArgs) expect(fn(f).arguments[a].type, `${f}.${a}`).toMatchObject({ kind: "OBJECT_KIND", name: "Secret" });
  });

  it("has every function of the flow with its flags (a renamed flag breaks this and the CI configs)", () => {
    const surface = Object.fromEntries(
      Object.entries(mod.objects.Pipeline.methods).map(([name, f]) => [name, Object.keys(f.arguments).filter((a) => a !== "source")]),
    );
    expect(surface).toEqual({
      withAwsCredentials: ["accessKeyId", "secretAccessKey", "sessionToken", "credentialsFile", "profile"],
      withAwsWebIdentity: ["token", "roleArn"],
      withGithubToken: ["token"],
      withRegistryAuth: ["username", "password"],
      withRegistryService: ["service"],
      withGitCredentials: ["sshKey", "token", "knownHosts"],
      plan: ["branch", "tag", "sha", "env", "format", "checkRegistry"],
      test: ["shards", "shardIndex", "timings"],
      lint: [],
      baseImage: ["branch", "tag", "sha", "env"],
      appImage: ["branch", "tag", "sha", "env"],
      publishAppImage: ["branch", "tag", "sha", "env"],
      decryptEnv: ["env"],
      encryptValue: ["env", "value"],
      checkEnv: ["env"],
      serve: ["env", "flavor", "image"],
      deploy: ["env", "branch", "tag", "sha", "dryRun", "format", "gitImage", "clusterAccess"],
      featureDeploy: ["branch", "sha", "dryRun", "gitImage", "clusterAccess"],
      featureTeardown: ["name", "gitImage", "clusterAccess"],
      featureSweep: ["liveBranches", "gitImage", "clusterAccess"],
    });
  });

  it.each([
    // --shards defaults to pipeline.json test.shards: no default of its own.
    ["test", "shards", "INTEGER_KIND", undefined, true],
    ["test", "shardIndex", "INTEGER_KIND", undefined, true],
    ["test", "timings", "OBJECT_KIND", undefined, true],
    ["deploy", "dryRun", "BOOLEAN_KIND", false, false],
    ["deploy", "env", "ENUM_KIND", undefined, true],
    ["deploy", "format", "ENUM_KIND", "text", false],
    ["deploy", "clusterAccess", "ENUM_KIND", "update-kubeconfig", false],
    ["plan", "env", "ENUM_KIND", undefined, true],
    ["plan", "format", "ENUM_KIND", "text", false],
    ["decryptEnv", "env", "ENUM_KIND", undefined, false],
    ["encryptValue", "value", "OBJECT_KIND", undefined, false],
    ["serve", "env", "ENUM_KIND", "dev", false],
    ["serve", "flavor", "ENUM_KIND", "server", false],
    ["withGitCredentials", "knownHosts", "OBJECT_KIND", undefined, true],
    ["withRegistryService", "service", "OBJECT_KIND", undefined, false],
  ])("%s --%s is %s (default %j, optional %s)", (f, a, kind, defaultValue, optional) => {
    const arg = fn(f).arguments[a];
    expect(arg.type.kind).toBe(kind);
    expect(arg.defaultValue).toEqual(defaultValue);
    expect(arg.isOptional).toBe(optional);
  });

  it.each([
    ["Environment", ["dev", "stage", "prod"], [["deploy", "env"], ["plan", "env"], ["serve", "env"], ["decryptEnv", "env"], ["encryptValue", "env"], ["checkEnv", "env"], ["baseImage", "env"], ["appImage", "env"], ["publishAppImage", "env"]]],
    ["OutputFormat", ["text", "json"], [["plan", "format"], ["deploy", "format"]]],
    ["ServeFlavor", ["server", "worker", "scheduler"], [["serve", "flavor"]]],
    ["ClusterAccess", ["update_kubeconfig", "none"], [["deploy", "clusterAccess"], ["featureDeploy", "clusterAccess"], ["featureTeardown", "clusterAccess"], ["featureSweep", "clusterAccess"]]],
  ])("the closed choice %s is an enum (its member names are what --help lists and the CLI accepts)", (name, members, uses) => {
    const e = mod.enums?.[name];
    expect(e, name).toBeDefined();
    expect(Object.keys(e!.values)).toEqual(members);
    // Member names are GraphQL names (core/typedef.go EnumTypeDef.WithMember); every member is documented.
    for (const m of Object.values(e!.values)) {
      expect(m.name).toMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/);
      expect(m.description.trim(), `${name}.${m.name}`).not.toBe("");
    }
    for (const [f, a] of uses) expect(fn(f).arguments[a].type, `${f} --${a}`).toMatchObject({ kind: "ENUM_KIND", name });
  });

  it("keeps its state internal: no field of Pipeline is exposed, so none is a function in --help", () => {
    const properties = (mod.objects.Pipeline as unknown as { properties: Record<string, { isExposed: boolean }> }).properties;
    expect(Object.keys(properties).length).toBeGreaterThan(0);
    expect(Object.entries(properties).filter(([, p]) => p.isExposed).map(([n]) => n)).toEqual([]);
  });

  it.each([
    ["test", "TestReport"],
    ["appImage", "Container"],
    ["decryptEnv", "Secret"],
    ["serve", "Service"],
    ["withAwsCredentials", "Pipeline"],
  ])("%s returns %s", (f, type) => {
    expect(fn(f).returnType.name).toBe(type);
  });

  it("every application-repository argument defaults to the bundled example app", () => {
    for (const [name, f] of Object.entries(mod.objects.Pipeline.methods)) {
      if (name.startsWith("with")) continue;
      expect(f.arguments.source?.defaultPath, name).toBe("/test/fixtures/rails-api");
    }
  });

  it("the test report exports its directory and fails through check", () => {
    const report = mod.objects.TestReport as unknown as { properties: Record<string, unknown>; methods: Record<string, unknown> };
    expect(Object.keys(report.properties)).toEqual(["report", "summary", "failures", "brokenShards"]);
    expect(Object.keys(report.methods)).toEqual(["check"]);
  });
});
