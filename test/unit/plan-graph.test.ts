/**
 * `dagger call plan` through the SDK (recorded queries): it reads the source, runs check-env first,
 * and with --check-registry asks the registry which base-image path will run.
 */
import { dag } from "@dagger.io/dagger";
import { describe, expect, it } from "vitest";
import type { PipelinePlan } from "../../modules/pipeline/src/lib/pipeline-plan.js";
import { runPlan } from "../../modules/pipeline/src/plan.js";
import { answerFromFiles, installRecorder } from "../support/dagger-recorder.js";

const SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
const FILES: Record<string, string> = {
  "pipeline.json": JSON.stringify({ registry: { host: "registry.test:5999" } }),
  Gemfile: "gem 'rails'\n",
  "Gemfile.lock": "GEM\n",
  "Dockerfile.base": "FROM ruby\n",
  "config/prod.env": "RAILS_ENV=production\n",
};

async function plan(files: Record<string, string>, checkRegistry: boolean, status = 200): Promise<{ out: string; requests: string[] }> {
  await installRecorder(answerFromFiles(() => files));
  const requests: string[] = [];
  const fetch = async (url: string, init?: RequestInit) => {
    requests.push(`${init?.method ?? "GET"} ${url}`);
    return new Response(null, { status, headers: { "docker-content-digest": "sha256:" + "a".repeat(64) } });
  };
  const out = await runPlan(dag.host().directory("/app"), { branch: "da/develop", tag: "", sha: SHA, env: "", format: "json", checkRegistry }, { aws: {} }, { fetch });
  return { out, requests };
}

describe("dagger call plan (recorded)", () => {
  it("executes nothing and leaves the registry alone by default", async () => {
    const { out, requests } = await plan(FILES, false);
    expect(requests).toEqual([]);
    expect((JSON.parse(out) as PipelinePlan).images.base.action).toBe("check-registry-then-build-if-missing");
  });

  it.each([
    [200, "use-existing", true],
    [404, "build-and-push", false],
  ])("--check-registry: a %s answer means %s", async (status, action, exists) => {
    const { out, requests } = await plan(FILES, true, status);
    const p = JSON.parse(out) as PipelinePlan;
    expect(requests).toHaveLength(1);
    expect(requests[0]).toBe(`HEAD https://registry.test:5999/v2/rails-api/manifests/${p.images.base.tag}`);
    expect(p.images.base).toMatchObject({ action, exists });
  });

  it("runs check-env first: a plaintext prod secret stops the plan", async () => {
    await expect(plan({ ...FILES, "config/prod.env": "GRAVITY_API_PASSWORD=hunter2\n" }, false)).rejects.toThrow("[ENV_FILE_PLAINTEXT_SECRET]");
  });
});
