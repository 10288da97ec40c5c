/**
 * What `dagger call` will show, read by the SDK's own introspector. A renamed flag or a lost doc
 * breaks this test (and the CI configs, which test/unit/ci-configs.test.ts checks against it).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CHECKOUT_IGNORE } from "../../modules/pipeline/src/checkout.js";
import { introspectModule, REPO_ROOT, type IntrospectedModule } from "../support/introspect.js";

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

  it("plan takes --branch, --tag, --sha, --env, --format, a --source defaulting to the caller's project and a --checkout defaulting to its repository root", () => {
    const args = fn("plan").arguments;
    expect(Object.keys(args)).toEqual(["source", "branch", "tag", "sha", "env", "format", "checkRegistry", "checkout"]);
    expect(args.source).toMatchObject({ defaultPath: ".", type: { kind: "OBJECT_KIND", name: "Directory" } });
    expect(args.checkout).toMatchObject({ defaultPath: "/", type: { kind: "OBJECT_KIND", name: "Directory" }, isOptional: true });
    // The list the module loads is the list git status skips (src/checkout.ts), or a tracked file in an ignored folder would look deleted.
    expect(args.checkout.ignore).toEqual(CHECKOUT_IGNORE);
    expect(args.checkout.ignore).toEqual(expect.arrayContaining(["node_modules", ".pipeline"]));
    expect(args.checkout.ignore).not.toContain(".git");
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
      ["withGitCredentials", "sshKeyBase64"],
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
      withRegistryService: ["service"],
      withGitCredentials: ["sshKey", "token", "sshKeyBase64", "knownHosts"],
      plan: ["branch", "tag", "sha", "env", "format", "checkRegistry", "checkout"],
      test: ["shards", "shardIndex", "timings", "retries", "onlyFailures", "previous", "strategy"],
      checkTests: ["report", "failOnFlaky"],
      mergeTimings: ["nodes"],
      lint: [],
      baseImage: ["branch", "tag", "sha", "env", "checkout"],
      appImage: ["branch", "tag", "sha", "env", "checkout"],
      publishAppImage: ["branch", "tag", "sha", "env", "checkout"],
      decryptEnv: ["env"],
      encryptValue: ["env", "value"],
      checkEnv: ["env"],
      serve: ["env", "flavor", "image"],
      deploy: ["env", "branch", "tag", "sha", "dryRun", "format", "gitImage", "clusterAccess", "allowDirty", "checkout"],
      featureDeploy: ["branch", "sha", "dryRun", "gitImage", "clusterAccess", "allowDirty", "checkout"],
      featureTeardown: ["name", "branch", "gitImage", "clusterAccess"],
      featureSweep: ["liveBranches", "gitImage", "clusterAccess"],
    });
  });

  it.each([
    // --shards defaults to pipeline.json test.shards: no default of its own.
    ["test", "shards", "INTEGER_KIND", undefined, true],
    ["test", "shardIndex", "INTEGER_KIND", undefined, true],
    ["test", "timings", "OBJECT_KIND", undefined, true],
    ["test", "retries", "INTEGER_KIND", 0, false],
    ["test", "onlyFailures", "BOOLEAN_KIND", false, false],
    ["test", "previous", "OBJECT_KIND", undefined, true],
    ["test", "strategy", "ENUM_KIND", "static", false],
    ["deploy", "dryRun", "BOOLEAN_KIND", false, false],
    ["deploy", "allowDirty", "BOOLEAN_KIND", false, false],
    ["featureDeploy", "sha", "STRING_KIND", "", false],
    ["checkTests", "report", "OBJECT_KIND", undefined, false],
    ["mergeTimings", "nodes", "OBJECT_KIND", undefined, false],
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
    ["withAwsEndpoint", "endpoint", "OBJECT_KIND", undefined, false],
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
    ["mergeTimings", "File"],
    ["withGitCredentials", "Pipeline"],
    ["appImage", "Container"],
    ["decryptEnv", "Secret"],
    ["serve", "Service"],
    ["withAwsCredentials", "Pipeline"],
  ])("%s returns %s", (f, type) => {
    expect(fn(f).returnType.name).toBe(type);
  });

  it("every application-repository argument defaults to the caller's project ('.'), never to a path of this repository", () => {
    const withoutSource = ["checkTests", "mergeTimings"];
    for (const [name, f] of Object.entries(mod.objects.Pipeline.methods)) {
      if (name.startsWith("with") || withoutSource.includes(name)) continue;
      expect(f.arguments.source?.defaultPath, name).toBe(".");
    }
  });

  it("every function with --sha or --branch reads the missing ones from --checkout (default: the repository root)", () => {
    const withRefs = Object.entries(mod.objects.Pipeline.methods).filter(([, f]) => "sha" in f.arguments || ("branch" in f.arguments && "tag" in f.arguments));
    expect(withRefs.map(([n]) => n).sort()).toEqual(["appImage", "baseImage", "deploy", "featureDeploy", "plan", "publishAppImage"]);
    for (const [name, f] of withRefs) {
      expect(f.arguments.checkout?.defaultPath, name).toBe("/");
      // base-image does not depend on the sha: only its branch comes from the checkout.
      for (const a of name === "baseImage" ? ["branch"] : ["sha", "branch"]) expect(f.arguments[a]!.description, `${name} --${a}`).toContain("default: the checkout");
    }
  });

  it("every @argument option is a literal or a const of index.ts (the engine's introspector cannot follow an import)", () => {
    // Seen on a 0.21 engine: `ignore: CHECKOUT_IGNORE` imported from ./checkout.js failed module
    // loading with "could not resolve type reference for string", while the npm introspector above
    // accepted it. Keep the options resolvable inside the file.
    const text = readFileSync(path.join(REPO_ROOT, "modules/pipeline/src/index.ts"), "utf8");
    const localConsts = new Set([...text.matchAll(/^const (\w+) =/gm)].map((m) => m[1]!));
    const imported = new Set([...text.matchAll(/^import \{([^}]*)\} from/gm)].flatMap((m) => m[1]!.split(",").map((n) => n.trim().replace(/^type /, ""))));
    const options = [...text.matchAll(/@argument\(\{([^}]*)\}\)/g)].map((m) => m[1]!);
    expect(options.length).toBeGreaterThan(10);
    for (const body of options) {
      for (const [, value] of body.matchAll(/\w+:\s*([A-Za-z_]\w*)/g)) {
        expect(imported.has(value!), `${value} is imported`).toBe(false);
        expect(localConsts.has(value!), `${value} is a const of index.ts`).toBe(true);
      }
    }
  });

  it("the test report exports its directory and fails through check", () => {
    const report = mod.objects.TestReport as unknown as { properties: Record<string, unknown>; methods: Record<string, unknown> };
    expect(Object.keys(report.properties)).toEqual(["report", "summary", "failures", "brokenShards", "flaky"]);
    expect(Object.keys(report.methods)).toEqual(["check"]);
    const check = (report.methods as Record<string, { arguments: Record<string, { type: { kind: string }; defaultValue: unknown }> }>).check!;
    expect(check.arguments.failOnFlaky).toMatchObject({ type: { kind: "BOOLEAN_KIND" }, defaultValue: false });
  });
});
