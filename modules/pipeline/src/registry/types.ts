/**
 * What the image code needs from a registry, whichever it is (ECR through the AWS SDK, any other
 * through the OCI distribution API). Generic over the secret type so adapters stay free of Dagger:
 * `src/images.ts` passes a function that turns a plaintext into a Dagger `Secret` at once.
 */

export interface ImageLookup {
  exists: boolean;
  /** `sha256:...` of the manifest the tag points at, when the registry said. */
  digest?: string;
}

/** A registry login for `withRegistryAuth(host, username, password)`. */
export interface RegistryLogin<S> {
  username: string;
  password: S;
}

export interface ImageRegistry<S> {
  readonly kind: "ecr" | "oci";
  /** host[:port], as it appears in image refs. */
  readonly host: string;
  /** Does `<host>/<repository>:<tag>` exist? Throws PipelineError REGISTRY_* on anything but yes/no. */
  lookup(repository: string, tag: string): Promise<ImageLookup>;
  /** The login for pushing (fetched once per run), or undefined for an anonymous registry. */
  login(): Promise<RegistryLogin<S> | undefined>;
}
