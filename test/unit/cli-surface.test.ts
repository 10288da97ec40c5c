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
});
