/**
 * Credentials a run needs, as Dagger `Secret`s only. The `with*` builders on `Pipeline` fill this
 * in; concern modules (images, deploy, secrets) receive it as a plain object. Nothing here is ever
 * turned into plaintext except right at the AWS/registry client that needs it.
 */
import { dag, type File, type Secret, type Service } from "@dagger.io/dagger";
import { decodeBase64SshKey } from "./lib/ssh-key.js";

export interface AwsSecrets {
  accessKeyId?: Secret;
  secretAccessKey?: Secret;
  sessionToken?: Secret;
  /** The text of a shared credentials file (~/.aws/credentials) and the profile to use. */
  credentialsFile?: Secret;
  profile?: string;
  /** A CI OIDC token (CircleCI: $CIRCLE_OIDC_TOKEN_V2) and the role it may assume. */
  webIdentityToken?: Secret;
  webIdentityRoleArn?: string;
}

export interface RunCredentials {
  aws: AwsSecrets;
  /** Where AWS calls go instead of AWS's public endpoints (with-aws-endpoint). */
  awsEndpoint?: Service;
  /** Mounted as a BuildKit secret while gems install (private GitHub gems). */
  githubToken?: Secret;
  /** For registries other than ECR (ECR auth comes from AWS). */
  registryUsername?: string;
  registryPassword?: Secret;
  /**
   * The registry of `registry.host` reached through a service (`tcp://localhost:5000`): the module
   * and the engine do not run on the caller's machine, so a loopback host there reaches nothing.
   */
  registryService?: Service;
  /** infrastructure-live access: an SSH private key or an HTTPS token. */
  gitSshKey?: Secret;
  gitToken?: Secret;
  /** known_hosts for the SSH server of infrastructure-live (default: GitHub's published host keys). */
  gitKnownHosts?: File;
}

export function hasAwsCredentials(aws: AwsSecrets): boolean {
  return Boolean((aws.accessKeyId && aws.secretAccessKey) || aws.credentialsFile || (aws.webIdentityToken && aws.webIdentityRoleArn));
}

/** A base64 one-line SSH key (`--ssh-key-base64`) back to the key, as a secret at once. */
export async function decodeSshKeySecret(encoded: Secret, flag: string): Promise<Secret> {
  return dag.setSecret("infra-live-ssh-key", decodeBase64SshKey(await encoded.plaintext(), flag));
}
