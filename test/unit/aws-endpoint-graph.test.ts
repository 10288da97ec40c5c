/**
 * with-aws-endpoint: the endpoint service is started once and its URL given to the module's own AWS
 * clients; containers that run AWS tools (terragrunt) get it bound as `aws-endpoint` with
 * AWS_ENDPOINT_URL pointing there (the caller's localhost is not reachable from the engine's network).
 */
import { dag } from "@dagger.io/dagger";
import { beforeEach, describe, expect, it } from "vitest";
import { AWS_ENDPOINT_ALIAS, resolveAwsEndpoint, withAwsEndpoint } from "../../modules/pipeline/src/aws-endpoint.js";
import { createAwsClients } from "../../modules/pipeline/src/aws/credential-provider.js";
import { installRecorder, type Recorder } from "../support/dagger-recorder.js";

let rec: Recorder;
beforeEach(async () => {
  rec = await installRecorder((leaf) => (leaf === "endpoint" ? "http://svc-4f2a.tunnel:4566" : undefined));
});

describe("with-aws-endpoint", () => {
  it("starts the service once and reads its http endpoint", async () => {
    const endpoint = await resolveAwsEndpoint(dag.host().service([{ frontend: 4566, backend: 4566 }]));
    expect(endpoint).toMatchObject({ url: "http://svc-4f2a.tunnel:4566", boundUrl: `http://${AWS_ENDPOINT_ALIAS}:4566` });
    expect(rec.queries.filter((q) => q.includes("start")).length).toBe(1);
    expect(rec.queries.some((q) => /endpoint ?\(scheme: "http"\)/.test(q))).toBe(true);
  });

  it("is nothing without with-aws-endpoint", async () => {
    expect(await resolveAwsEndpoint(undefined)).toBeUndefined();
    expect(rec.queries).toEqual([]);
  });

  it("binds the service into a container with AWS_ENDPOINT_URL", async () => {
    const endpoint = await resolveAwsEndpoint(dag.host().service([{ frontend: 4566, backend: 4566 }]));
    await withAwsEndpoint(dag.container().from("alpine/terragrunt:1.9.8"), endpoint).sync();
    const last = rec.expand(rec.queries.at(-1)!);
    expect(last).toContain(`withServiceBinding (alias: "${AWS_ENDPOINT_ALIAS}"`);
    expect(last).toContain(`withEnvVariable (name: "AWS_ENDPOINT_URL",value: "http://${AWS_ENDPOINT_ALIAS}:4566")`);
  });

  it("points the module's STS, KMS and ECR clients at the endpoint", async () => {
    const aws = createAwsClients({ region: "us-west-2", endpoint: "http://svc-4f2a.tunnel:4566", credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "x".repeat(40) } });
    for (const client of [aws.sts(), aws.kms(), aws.ecr()]) {
      const endpoint = await client.config.endpoint!();
      expect(`${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`).toBe("http://svc-4f2a.tunnel:4566");
    }
    aws.destroy();
  });
});
