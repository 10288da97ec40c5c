/**
 * The closed choices of the CLI, as TypeScript enums: the 0.21 introspector registers them as
 * Dagger enums, so `dagger call deploy --help` lists the values and the CLI refuses any other
 * (it matches a member NAME, case-insensitively: cmd/dagger/flags.go in dagger/dagger). The member
 * names are what users type, so they are lower case; the values are the strings the pure lib/
 * functions take. The engine accepts names of letters, digits and underscores only
 * (core/typedef.go `EnumTypeDef.WithMember`), hence `update_kubeconfig`.
 */

/** A deploy environment. */
export enum Environment {
  /** Development (branch da/develop). */
  dev = "dev",
  /** Staging (branch da/stage). */
  stage = "stage",
  /** Production (release-* tags). */
  prod = "prod",
}

/** How a plan is printed. */
export enum OutputFormat {
  /** For people. */
  text = "text",
  /** A stable JSON shape (schemaVersion 1). */
  json = "json",
}

/** The process an app container runs (its SERVER_FLAVOR). */
export enum ServeFlavor {
  /** The HTTP server, on port 8080. */
  server = "server",
  /** The sidekiq worker: listens on no port. */
  worker = "worker",
  /** The clockwork scheduler: listens on no port. */
  scheduler = "scheduler",
}

/** How terragrunt reaches the EKS cluster. */
export enum ClusterAccess {
  /** `aws eks update-kubeconfig` in the terragrunt container (its image needs the AWS CLI). */
  update_kubeconfig = "update-kubeconfig",
  /** Nothing: the modules authenticate themselves (e.g. data "aws_eks_cluster_auth"). */
  none = "none",
}
