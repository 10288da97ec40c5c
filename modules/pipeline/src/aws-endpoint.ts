/**
 * `with-aws-endpoint`: every AWS call of a run goes to one endpoint instead of AWS's public ones
 * (LocalStack, a proxy, a test stub). It comes in as a Dagger `Service` (e.g. `tcp://localhost:4566`
 * from the caller's host), because the module's code and its containers run in the engine's network,
 * where the caller's `localhost` is not reachable by address.
 *
 * - The module's own SDK clients (STS, ECR, KMS) use the service's endpoint once it is started.
 * - The terragrunt container gets the service bound as `aws-endpoint` and `AWS_ENDPOINT_URL`
 *   pointing at it, which the AWS CLI v2 and terraform's AWS provider (5.x) honour.
 */
import type { Container, Service } from "@dagger.io/dagger";

/** The host name the endpoint service has inside the terragrunt container. */
export const AWS_ENDPOINT_ALIAS = "aws-endpoint";

export interface AwsEndpoint {
  service: Service;
  /** For the module's own AWS clients: http://<service host>:<port>. */
  url: string;
  /** Inside a container with the service bound as AWS_ENDPOINT_ALIAS. */
  boundUrl: string;
}

/** Start the endpoint service and read where it answers; undefined without with-aws-endpoint. */
export async function resolveAwsEndpoint(service: Service | undefined): Promise<AwsEndpoint | undefined> {
  if (!service) return undefined;
  await service.start();
  const url = await service.endpoint({ scheme: "http" });
  const port = new URL(url).port || "80";
  return { service, url, boundUrl: `http://${AWS_ENDPOINT_ALIAS}:${port}` };
}

/** Bind the endpoint into a container that runs AWS tools (terragrunt, the AWS CLI). */
export function withAwsEndpoint(ctr: Container, endpoint: AwsEndpoint | undefined): Container {
  if (!endpoint) return ctr;
  return ctr.withServiceBinding(AWS_ENDPOINT_ALIAS, endpoint.service).withEnvVariable("AWS_ENDPOINT_URL", endpoint.boundUrl);
}
