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
      withAwsEndpoint: ["endpoint"],
      withGithubToken: ["token"],
      withRegistryAuth: ["username", "password"],
      withGitCredentials: ["sshKey", "token"],
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
    ["test", "shards", "INTEGER_KIND", 8, false],
    ["test", "shardIndex", "INTEGER_KIND", undefined, true],
    ["test", "timings", "OBJECT_KIND", undefined, true],
    ["deploy", "dryRun", "BOOLEAN_KIND", false, false],
    ["deploy", "env", "STRING_KIND", "", false],
    ["encryptValue", "value", "OBJECT_KIND", undefined, false],
    ["withAwsEndpoint", "endpoint", "OBJECT_KIND", undefined, false],
    ["serve", "flavor", "STRING_KIND", "server", false],
  ])("%s --%s is %s (default %j, optional %s)", (f, a, kind, defaultValue, optional) => {
    const arg = fn(f).arguments[a];
    expect(arg.type.kind).toBe(kind);
    expect(arg.defaultValue).toEqual(defaultValue);
    expect(arg.isOptional).toBe(optional);
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
