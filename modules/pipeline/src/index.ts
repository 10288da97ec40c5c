/**
 * A programmable pipeline for Rails APIs: lint, timing-balanced rspec shards with their own
 * postgres and redis, checksum-cached base images, app images on ECR, infrastructure-live
 * write-back, terragrunt deploys, feature environments and KMS-encrypted env files.
 *
 * Set up once in the application repository (`dagger init --blueprint=<this module>`), its
 * functions are the project's own: `dagger call test --shards 8`, `dagger call deploy --env dev`.
 * Every function reads the application from `--source` (default: the project `dagger call` runs
 * in) and its optional `pipeline.json`; without one, the built-in defaults reproduce the CircleCI +
 * bash flow it replaces. `--sha`, `--branch` and `--tag` default to the project's git checkout. Credentials are given once with the `with-*` builders, always
 * as secrets (`env:NAME`, `file:PATH`), before the function that needs them.
 */
import { argument, check, Container, Directory, File, func, object, Secret, Service } from "@dagger.io/dagger";
import { refFromCheckout } from "./checkout.js";
import { ClusterAccess, Environment, OutputFormat, ServeFlavor } from "./choices.js";
import { decodeSshKeySecret, type RunCredentials } from "./run-credentials.js";
import { runDeploy } from "./deploy.js";
import { runFeatureSweep, runFeatureTeardownOf } from "./feature.js";
import { buildAppImage, publishAppImage, publishBaseImage } from "./images.js";
import { runPlan } from "./plan.js";
import { decryptEnvSecret, encryptValueToken, runCheckEnv } from "./secrets.js";
import { serveApp } from "./serve.js";
import { TestReport } from "./test-report.js";
import { checkExportedReport, mergeTimingsFrom } from "./test-results.js";
import { TestStrategy } from "./test-strategy.js";
import { runLint, runTests } from "./test-suite.js";

/**
 * The project `dagger call` runs in. In an application set up with `dagger init --blueprint`,
 * Dagger 0.21 resolves a relative default path from the caller's workspace directory, not from this
 * module's repository (`core/modfunc.go` loadLegacyDefaultPathArg, `core/schema/workspace.go`).
 */
const PROJECT = ".";
/** The project's repository root (the workspace boundary: the git root), read for the commit and branch. */
const CHECKOUT = "/";
/**
 * Left out of the checkout (src/checkout.ts CHECKOUT_IGNORE, which git status also skips; a test
 * keeps them equal). A literal here: the engine's TypeScript introspector fails on an
 * `@argument` option imported from another file ("could not resolve type reference").
 */
const CHECKOUT_IGNORE = ["node_modules", "**/node_modules", "tmp", "log", "coverage", "test_results", ".pipeline", "vendor/bundle"];
/** Never shipped to the engine: build output and local state of the app. */
const SOURCE_IGNORE = ["node_modules", "tmp", "log", ".git", "test_results"];

/**
 * The pipeline of a Rails API repository: plan, lint, test, images, deploy, feature environments
 * and env-file secrets.
 */
@object()
export class Pipeline {
  // Internal state, set by the with-* builders. Not @func(): a field exposed to Dagger becomes a
  // callable function in `dagger call --help`. No initialisers: the engine rebuilds the object with
  // Object.create(prototype) + the saved fields (SDK dist/src/module/executor.js), so neither field
  // initialisers nor a constructor run when a function is invoked; every default is applied where
  // the field is read (credentials()).
  private awsAccessKeyId?: Secret;
  private awsSecretAccessKey?: Secret;
  private awsSessionToken?: Secret;
  private awsCredentialsFile?: Secret;
  private awsProfile?: string;
  private awsWebIdentityToken?: Secret;
  private awsWebIdentityRoleArn?: string;
  private githubToken?: Secret;
  private registryUsername?: string;
  private registryPassword?: Secret;
  private registryService?: Service;
  private awsEndpoint?: Service;
  private gitSshKey?: Secret;
  private gitToken?: Secret;
  private gitKnownHosts?: File;

  /**
   * Use AWS credentials for ECR, STS and KMS: static keys, or a shared credentials file and profile.
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY plan --branch da/develop --sha $CIRCLE_SHA1
   * Example: dagger call with-aws-credentials --credentials-file file:$HOME/.aws/credentials --profile ci base-image --env dev
   */
  @func()
  withAwsCredentials(
    /** Access key id (Example: env:AWS_ACCESS_KEY_ID). */
    accessKeyId?: Secret,
    /** Secret access key (Example: env:AWS_SECRET_ACCESS_KEY). */
    secretAccessKey?: Secret,
    /** Session token of temporary credentials (Example: env:AWS_SESSION_TOKEN). */
    sessionToken?: Secret,
    /** A shared credentials file instead of keys (Example: file:$HOME/.aws/credentials). */
    credentialsFile?: Secret,
    /** Profile in the credentials file. */
    profile = "default",
  ): Pipeline {
    this.awsAccessKeyId = accessKeyId;
    this.awsSecretAccessKey = secretAccessKey;
    this.awsSessionToken = sessionToken;
    this.awsCredentialsFile = credentialsFile;
    this.awsProfile = profile;
    return this;
  }

  /**
   * Use a CI OIDC token to assume an AWS role (no long-lived keys in CI).
   *
   * Example: dagger call with-aws-web-identity --token env:CIRCLE_OIDC_TOKEN_V2 --role-arn arn:aws:iam::004671295794:role/ci deploy --env dev
   */
  @func()
  withAwsWebIdentity(
    /** The OIDC token (Example: env:CIRCLE_OIDC_TOKEN_V2). */
    token: Secret,
    /** The role whose trust policy accepts the CI's OIDC provider. */
    roleArn: string,
  ): Pipeline {
    this.awsWebIdentityToken = token;
    this.awsWebIdentityRoleArn = roleArn;
    return this;
  }

  /**
   * Send every AWS call of the run (STS, ECR, KMS, and terragrunt's AWS CLI and provider through
   * AWS_ENDPOINT_URL) to this endpoint instead of AWS's public ones: LocalStack, a proxy, a stub.
   *
   * Example: dagger call with-aws-endpoint --endpoint tcp://localhost:4566 with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY deploy --env dev --branch da/develop --sha $SHA
   */
  @func()
  withAwsEndpoint(
    /** The endpoint as a service, e.g. one on your machine (Example: tcp://localhost:4566). */
    endpoint: Service,
  ): Pipeline {
    this.awsEndpoint = endpoint;
    return this;
  }

  /**
   * Mount a GitHub token as a BuildKit secret while gems install (never a build arg).
   *
   * Example: dagger call with-github-token --token env:GITHUB_OAUTH_TOKEN base-image --env dev
   */
  @func()
  withGithubToken(
    /** The token (Example: env:GITHUB_OAUTH_TOKEN). */
    token: Secret,
  ): Pipeline {
    this.githubToken = token;
    return this;
  }

  /**
   * Credentials for a registry that is not ECR (pipeline.json `registry.host`).
   *
   * Example: dagger call with-registry-auth --username ci --password env:REGISTRY_PASSWORD base-image --env dev
   */
  @func()
  withRegistryAuth(
    /** Registry user name. */
    username: string,
    /** Registry password or token (Example: env:REGISTRY_PASSWORD). */
    password: Secret,
  ): Pipeline {
    this.registryUsername = username;
    this.registryPassword = password;
    return this;
  }

  /**
   * Reach the registry of pipeline.json `registry.host` through a service, e.g. a registry on your
   * own machine: the module and the engine run in their own network, where 127.0.0.1 is not your
   * machine. The existence check and the pushes of base-image go to the service, and test and lint
   * pull the base image through it; app-image cannot use it (the engine pulls the Dockerfile's FROM
   * by name), so deploy with a registry the engine can resolve.
   *
   * Example: dagger call with-registry-service --service tcp://localhost:5000 base-image --env dev
   */
  @func()
  withRegistryService(
    /** The registry as a service (Example: tcp://localhost:5000). */
    service: Service,
  ): Pipeline {
    this.registryService = service;
    return this;
  }

  /**
   * Credentials for the infrastructure-live repository: an SSH key or an HTTPS token. SSH checks the
   * server's host key strictly (StrictHostKeyChecking=yes) against --known-hosts, by default GitHub's
   * published host keys.
   *
   * Example: dagger call with-git-credentials --ssh-key file:$HOME/.ssh/id_ed25519 deploy --env dev
   * Example: dagger call with-git-credentials --ssh-key file:$HOME/.ssh/id_ed25519 --known-hosts ./infra-known-hosts deploy --env dev
   * Example: dagger call with-git-credentials --ssh-key-base64 env:INFRA_LIVE_SSH_KEY_B64 deploy --branch "$CIRCLE_BRANCH" --sha "$CIRCLE_SHA1"
   */
  @func()
  async withGitCredentials(
    /** SSH private key for git@ URLs (Example: file:$HOME/.ssh/id_ed25519). */
    sshKey?: Secret,
    /** Token for https URLs (Example: env:INFRA_LIVE_TOKEN). */
    token?: Secret,
    /** Instead of --ssh-key: the key base64-encoded on one line, for CI variables that cannot hold newlines (Example: env:INFRA_LIVE_SSH_KEY_B64). */
    sshKeyBase64?: Secret,
    /** known_hosts lines for the SSH server of infraLive.repoUrl; default: GitHub's published host keys (Example: ./known_hosts, from ssh-keyscan checked against the host's published fingerprints). */
    knownHosts?: File,
  ): Promise<Pipeline> {
    this.gitSshKey = sshKey ?? (sshKeyBase64 ? await decodeSshKeySecret(sshKeyBase64, "--ssh-key-base64") : undefined);
    this.gitToken = token;
    this.gitKnownHosts = knownHosts;
    return this;
  }

  /** The credentials given so far, as one plain object for the concern modules. */
  private credentials(): RunCredentials {
    return {
      aws: {
        accessKeyId: this.awsAccessKeyId,
        secretAccessKey: this.awsSecretAccessKey,
        sessionToken: this.awsSessionToken,
        credentialsFile: this.awsCredentialsFile,
        profile: this.awsProfile || "default",
        webIdentityToken: this.awsWebIdentityToken,
        webIdentityRoleArn: this.awsWebIdentityRoleArn || undefined,
      },
      awsEndpoint: this.awsEndpoint,
      githubToken: this.githubToken,
      registryUsername: this.registryUsername || undefined,
      registryPassword: this.registryPassword,
      registryService: this.registryService,
      gitSshKey: this.gitSshKey,
      gitToken: this.gitToken,
      gitKnownHosts: this.gitKnownHosts,
    };
  }

  // --- plan -------------------------------------------------------------------------------------

  /**
   * Print what a run would do for a branch or tag, executing nothing: environment, image refs and
   * tags, the dependency checksum and base-image variant, each infrastructure-live file and the
   * value it gets, terragrunt units in apply order, AWS role and cluster, feature units.
   *
   * Example: dagger call plan
   * Example: dagger call plan --branch da/develop --sha 0123456789abcdef0123456789abcdef01234567
   * Example: dagger call plan --tag release-v1.2.3 --sha $CIRCLE_SHA1 --format json
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY plan --branch da/develop --sha $CIRCLE_SHA1 --check-registry
   */
  // Never cached: --check-registry asks the registry, and a cached plan would show a week-old answer.
  @func({ cache: "never" })
  async plan(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The branch being built, e.g. da/develop or feature/new-loan-flow (Example: --branch $CIRCLE_BRANCH); default: the checkout's branch. */
    branch = "",
    /** The tag being built, e.g. release-v1.2.3 (Example: --tag $CIRCLE_TAG). Give a branch or a tag; default: on a detached HEAD, a tag at HEAD. */
    tag = "",
    /** The full 40-character commit sha (Example: --sha $CIRCLE_SHA1); default: the checkout's HEAD. */
    sha = "",
    /** Force an environment instead of resolving it from the branch or tag. */
    env?: Environment,
    /** Output format: text (for people) or json (stable shape, schemaVersion 1). */
    format: OutputFormat = OutputFormat.text,
    /** Also ask the registry whether the base image exists, so the plan shows whether base-image will build (needs registry credentials for ECR); default false. */
    checkRegistry = false,
    /** The project's git checkout: the commit, branch and tags are read from it when --sha, --branch or --tag is not given; default: the project's repository root. */
    @argument({ defaultPath: CHECKOUT, ignore: CHECKOUT_IGNORE }) checkout?: Directory,
  ): Promise<string> {
    const ref = await refFromCheckout(source, checkout, { branch, tag, sha, env: env ?? "" }, { command: "plan" });
    return runPlan(source, { ...ref.flags, env: env ?? "", format, checkRegistry }, this.credentials());
  }

  // --- test -------------------------------------------------------------------------------------

  /**
   * Run rspec split into timing-balanced shards, each with its own postgres and redis, in parallel.
   * Gems come from the dev-variant base image (built once, keyed by the dependency checksum). The
   * shards are planned with, in order: --timings, the previous run's merged timings at
   * test.timingsCacheFile (.pipeline/timings.json, where CI restores its cache; absent on a first
   * run), the committed test.timingsFile, else file sizes. The result never fails on failing
   * examples: its `report` holds the merged and per-shard JUnit, the next run's timings.json, this
   * call's shard timings (timings/shard-<i>-of-<n>.json, for merge-timings), summary.txt and
   * outcome.json; `check` fails with the summary, or after an export `check-tests --report <dir>`.
   * Gems come from the pushed base-dev-<checksum> when the registry has it, else they are built here.
   * Every call runs the suite (never answered from Dagger's cache): a rerun reruns.
   *
   * Example: dagger call test --shards 8
   * Example: dagger call test --shards 8 report export --path test_results
   * Example: dagger call test --shards $CIRCLE_NODE_TOTAL --shard-index $CIRCLE_NODE_INDEX report export --path test_results
   * Example: dagger call test --shards 8 check
   * Example: dagger call test --shards 8 --retries 2 check --fail-on-flaky
   * Example: dagger call test --only-failures --previous ./test_results check
   * Example: dagger call test --shards 8 --strategy queue check
   */
  @func({ cache: "never" })
  async test(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** Number of shards the suite is split into (every CI node must pass the same number); default: pipeline.json test.shards (8). */
    shards?: number,
    /** Run only this shard (0-based) of --shards, for CI parallelism across machines; default: every shard here, in parallel. */
    shardIndex?: number,
    /** Previous timings: timings.json from an earlier run, a JUnit XML, a knapsack report or a parallel_tests log. Default: the restored test.timingsCacheFile (.pipeline/timings.json), else the committed test.timingsFile, else file sizes. */
    timings?: File,
    /** Rerun each shard's failed examples in a fresh process up to this many times; an example that then passes is reported flaky, never passed (Example: dagger call test --retries 2 check). */
    retries = 0,
    /** Run only the examples that failed in --previous, by example id (Example: dagger call test --only-failures --previous ./test_results check). */
    onlyFailures = false,
    /** The report directory of an earlier run (exported with `report export --path test_results`), or a folder of its JUnit XML; read with --only-failures. */
    previous?: Directory,
    /** `static`: each shard runs its list from the timing plan (works with --shard-index across CI nodes); `queue`: the shards pull batches, longest first, from one queue service in this engine, so a slow shard takes less (Example: dagger call test --shards 8 --strategy queue check). */
    strategy: TestStrategy = TestStrategy.static,
  ): Promise<TestReport> {
    return runTests(source, { shards, shardIndex: shardIndex ?? -1, timings, retries, onlyFailures, previous, strategy }, this.credentials());
  }

  /**
   * Fail when an exported test report holds failed examples or a broken shard, printing its summary;
   * print the summary otherwise. It reads the exported files: the suite does not run again. The CI
   * step after `test ... report export --path test_results` (and after the reports were stored).
   *
   * Example: dagger call check-tests --report test_results
   */
  @func()
  async checkTests(
    /** The folder test's report was exported to (Example: --report test_results). */
    report: Directory,
    /** Also fail when an example was flaky (failed, then passed on a retry); default false (Example: dagger call check-tests --report test_results --fail-on-flaky). */
    failOnFlaky = false,
  ): Promise<string> {
    return checkExportedReport(report, failOnFlaky);
  }

  /**
   * Merge the test nodes' timings (each node's report holds timings/shard-<i>-of-<n>.json: what its
   * shard measured) into the next run's timings file. Fails when the nodes planned differently (they
   * read different previous timings): some examples could have run twice or not at all.
   *
   * Example: dagger call merge-timings --nodes /tmp/workspace/timings export --path .pipeline/timings.json
   */
  @func()
  async mergeTimings(
    /** A folder holding the nodes' shard-<i>-of-<n>.json files, at any depth (Example: --nodes /tmp/workspace/timings). */
    nodes: Directory,
  ): Promise<File> {
    return mergeTimingsFrom(nodes);
  }

  /**
   * Run rubocop (pipeline.json `test.lintCommand`) in the same image the tests use (the pushed
   * base-dev-<checksum> when the registry has it, else built here). Never answered from Dagger's
   * cache: it asks the registry.
   *
   * Example: dagger call lint
   * Example: dagger call lint --source ../other-app
   */
  @func({ cache: "never" })
  async lint(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
  ): Promise<string> {
    return runLint(source, this.credentials());
  }

  // --- images -----------------------------------------------------------------------------------

  /**
   * Ensure the checksum-cached base image: hash Gemfile, Gemfile.lock and Dockerfile.base (as the
   * seed's `cat ... | sha1sum`), ask the registry whether `base-dev-<sum>` (dev/stage) or
   * `base-<sum>` (prod) exists, and on a hit build nothing; on a miss build Dockerfile.base (the dev
   * variant drops the `remove-for-dev` lines) with the GitHub token as a BuildKit secret, push it,
   * and on the develop branch push the latest alias after that push succeeded. ECR is asked through
   * DescribeImages (credentials from with-aws-credentials / with-aws-web-identity); any other
   * registry (pipeline.json `registry.host`) through the OCI distribution API (with-registry-auth).
   * Prints and returns `cache hit <ref>@<digest> (nothing built)` or
   * `cache miss: built and pushed <ref>@<digest>`, plus an `alias ...` line when the alias moved.
   * `--env` alone chooses the variant (dev, stage: dev variant; prod: prod variant) and never moves
   * the alias; `--branch`/`--tag` resolve the environment like plan does.
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY with-github-token --token env:GITHUB_OAUTH_TOKEN base-image --branch da/develop
   * Example: dagger call with-registry-auth --username ci --password env:REGISTRY_PASSWORD base-image --env dev
   * Example: dagger call with-aws-web-identity --token env:CIRCLE_OIDC_TOKEN_V2 --role-arn arn:aws:iam::004671295794:role/ci base-image --tag release-v1.2.3
   */
  @func({ cache: "never" })
  async baseImage(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The branch being built; the develop branch (da/develop) also moves the latest alias (Example: --branch $CIRCLE_BRANCH); default: the checkout's branch. */
    branch = "",
    /** The tag being built, e.g. release-v1.2.3 (prod variant) (Example: --tag $CIRCLE_TAG). Give a branch or a tag; default: on a detached HEAD, a tag at HEAD. */
    tag = "",
    /** The full 40-character commit sha; checked when given, the base image does not depend on it (Example: --sha $CIRCLE_SHA1). */
    sha = "",
    /** Choose the variant by environment (dev, stage: dev variant; prod) instead of by branch or tag. */
    env?: Environment,
    /** The project's git checkout: the commit, branch and tags are read from it when --sha, --branch or --tag is not given; default: the project's repository root. */
    @argument({ defaultPath: CHECKOUT, ignore: CHECKOUT_IGNORE }) checkout?: Directory,
  ): Promise<string> {
    const ref = await refFromCheckout(source, checkout, { branch, tag, sha, env: env ?? "" }, { command: "base-image", needSha: false, needRef: !env });
    return (await publishBaseImage(source, { ...ref.flags, env: env ?? "" }, this.credentials())).report;
  }

  /**
   * Build the app image without pushing it and return the Container, to chain `terminal`,
   * `export --path app.tar` or `publish --address`. The base image is ensured first (as base-image
   * does: built and pushed only when its tag is missing), then Dockerfile is built FROM it with the
   * build args BASE_IMAGE_NAME, DOCKER_TAG (sha for dev/stage, version for a release tag,
   * feat-<name>-<sha7> for a feature) and VPC_NAME. Use publish-app-image to push to the
   * environment's tag; this is the build-only path (`--push=false` in the seed's terms).
   *
   * Example: dagger call app-image --env dev --branch da/develop --sha $CIRCLE_SHA1 terminal
   * Example: dagger call with-registry-auth --username ci --password env:REGISTRY_PASSWORD app-image --branch feature/new-loan-flow --sha $CIRCLE_SHA1 export --path app.tar
   */
  @func({ cache: "never" })
  async appImage(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The branch being built, e.g. da/develop or feature/new-loan-flow (Example: --branch $CIRCLE_BRANCH); default: the checkout's branch. */
    branch = "",
    /** The tag being built, e.g. release-v1.2.3 (Example: --tag $CIRCLE_TAG). Give a branch or a tag; default: on a detached HEAD, a tag at HEAD. */
    tag = "",
    /** The full 40-character commit sha; dev and stage images are tagged with it (Example: --sha $CIRCLE_SHA1); default: the checkout's HEAD. */
    sha = "",
    /** Force an environment instead of resolving it from the branch or tag. */
    env?: Environment,
    /** The project's git checkout: the commit, branch and tags are read from it when --sha, --branch or --tag is not given; default: the project's repository root. */
    @argument({ defaultPath: CHECKOUT, ignore: CHECKOUT_IGNORE }) checkout?: Directory,
  ): Promise<Container> {
    const ref = await refFromCheckout(source, checkout, { branch, tag, sha, env: env ?? "" }, { command: "app-image" });
    return (await buildAppImage(source, { ...ref.flags, env: env ?? "" }, this.credentials())).container;
  }

  /**
   * Build the app image (as app-image) and push it to `<registry>/<repository>:<environment tag>`;
   * returns the pushed ref with its digest, `<ref>@sha256:...`, for the deploy step.
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY publish-app-image --branch da/develop --sha $CIRCLE_SHA1
   * Example: dagger call with-aws-web-identity --token env:CIRCLE_OIDC_TOKEN_V2 --role-arn arn:aws:iam::004671295794:role/ci publish-app-image --tag release-v1.2.3 --sha $CIRCLE_SHA1
   */
  @func({ cache: "never" })
  async publishAppImage(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The branch being built, e.g. da/develop or feature/new-loan-flow (Example: --branch $CIRCLE_BRANCH); default: the checkout's branch. */
    branch = "",
    /** The tag being built, e.g. release-v1.2.3 (Example: --tag $CIRCLE_TAG). Give a branch or a tag; default: on a detached HEAD, a tag at HEAD. */
    tag = "",
    /** The full 40-character commit sha; dev and stage images are tagged with it (Example: --sha $CIRCLE_SHA1); default: the checkout's HEAD. */
    sha = "",
    /** Force an environment instead of resolving it from the branch or tag. */
    env?: Environment,
    /** The project's git checkout: the commit, branch and tags are read from it when --sha, --branch or --tag is not given; default: the project's repository root. */
    @argument({ defaultPath: CHECKOUT, ignore: CHECKOUT_IGNORE }) checkout?: Directory,
  ): Promise<string> {
    const ref = await refFromCheckout(source, checkout, { branch, tag, sha, env: env ?? "" }, { command: "publish-app-image" });
    return publishAppImage(source, { ...ref.flags, env: env ?? "" }, this.credentials());
  }

  // --- secrets ----------------------------------------------------------------------------------

  /**
   * Decrypt config/<env>.env with KMS (the environment's region, the with-aws-* credentials) and
   * return it as a secret: KEY=value lines with every kmscrypt:: token replaced by its plaintext.
   * Nothing is printed unless you ask for the plaintext; a file without tokens (dev) needs no AWS.
   * A token that fails names its KEY and file:line (access denied, wrong region, corrupted token).
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY decrypt-env --env prod plaintext
   * Example: dagger call decrypt-env --env dev plaintext
   */
  @func({ cache: "never" })
  async decryptEnv(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The environment whose config/<env>.env to decrypt. */
    env: Environment,
  ): Promise<Secret> {
    return decryptEnvSecret(source, env, this.credentials());
  }

  /**
   * Encrypt one value with the environment's KMS key (environments.<env>.kmsKeyId) and print the
   * kmscrypt::<base64> token to paste into config/<env>.env. The value is read as a secret.
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY encrypt-value --env prod --value env:MY_SECRET
   */
  @func({ cache: "never" })
  async encryptValue(
    /** The application repository (its pipeline.json names the key); default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The environment whose key encrypts the value. */
    env: Environment,
    /** The value to encrypt, as a secret (Example: env:MY_SECRET or file:./secret.txt). */
    value: Secret,
  ): Promise<string> {
    return encryptValueToken(source, env, value, this.credentials());
  }

  /**
   * Lint the env files: fail (ENV_FILE_PLAINTEXT_SECRET, ENV_FILE_INVALID) listing every problem at
   * file:line when a stage/prod file holds a plaintext value for a secret-looking key
   * (secrets.secretKeyPatterns, minus secrets.plaintextAllowList), a kmscrypt:: token is not valid
   * base64 of a KMS blob, or a line is malformed; print one ok line per file otherwise.
   * plan and deploy run the same check first.
   *
   * Example: dagger call check-env
   * Example: dagger call check-env --env prod
   */
  @check()
  @func()
  async checkEnv(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** Check only this environment's file; default: all of them. */
    env?: Environment,
  ): Promise<string> {
    return runCheckEnv(source, { env });
  }

  /**
   * Run the app as a pod would, as a service: the app image (built locally from Dockerfile.base and
   * Dockerfile, no registry), SERVER_FLAVOR and VPC_NAME set, the decrypted env file mounted as a
   * secret file at DECRYPTED_ENV_FILE (read by bin/env), its own postgres and redis bound. The
   * server flavour creates, migrates and seeds the database, then listens on 8080, the one port the
   * service exposes (the image's other EXPOSE ports are dropped: the engine would wait for each of
   * them before the service counts as started). The worker and scheduler listen on no port: their
   * service exposes 8080 with its health check skipped, only so that `up` keeps them running.
   *
   * Example: dagger call serve --env dev up --ports 8080:8080
   * Example: dagger call serve --env dev --flavor worker up
   * Example: dagger call serve --env dev --image 004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api:<sha> up --ports 8080:8080
   */
  @func({ cache: "never" })
  async serve(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The environment whose env file the app gets (stage and prod need with-aws-credentials). */
    env: Environment = Environment.dev,
    /** The process to run: server (HTTP on 8080), worker (sidekiq) or scheduler (clockwork). */
    flavor: ServeFlavor = ServeFlavor.server,
    /** Run this app image instead of building one (Example: --image 004671295794.dkr.ecr.us-west-2.amazonaws.com/rails-api:<sha>). */
    image?: Container,
  ): Promise<Service> {
    return serveApp(source, { env, flavor, image }, this.credentials());
  }

  // --- deploy -----------------------------------------------------------------------------------

  /**
   * Deploy to dev, stage or prod as the seed's deploy job does, executing exactly what plan prints:
   * check-env, then (before anything is pushed) AssumeRole into the environment's roleArn and a
   * read-only clone of infrastructure-live that checks every unit's terragrunt.hcl exists, parses and
   * has the image attribute; then the base image (built only when missing), the app image (pushed),
   * one infrastructure-live commit setting the image tag in every unit (retried when someone else
   * pushed), fresh role credentials, cluster access (aws eks update-kubeconfig from the environment's
   * eksClusterArn) and terragrunt apply per unit in order (default clockwork, sidekiq, rails-api) in
   * the terragrunt.image container, stopping at the first failure. Prints the step-by-step report;
   * on failure the error is that report, naming the infrastructure-live commit that landed and the
   * units applied, failed (with the tail of their output) and not reached. The role's temporary
   * credentials reach terragrunt only as secret variables. --dry-run prints plan's output and does
   * nothing. Without --sha/--branch/--tag the commit and branch are the checkout's; a checkout with
   * uncommitted changes is refused (they would ship under HEAD's sha) unless --allow-dirty. The
   * report starts with the commit it deploys and where each value came from.
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY with-git-credentials --ssh-key file:$HOME/.ssh/id_ed25519 deploy --env dev --branch da/develop --sha $CIRCLE_SHA1
   * Example: dagger call with-aws-web-identity --token env:CIRCLE_OIDC_TOKEN_V2 --role-arn arn:aws:iam::004671295794:role/ci with-git-credentials --token env:INFRA_LIVE_TOKEN deploy --tag release-v1.2.3 --sha $CIRCLE_SHA1
   * Example: dagger call deploy --env dev
   * Example: dagger call deploy --env prod --tag release-v1.2.3 --sha $CIRCLE_SHA1 --dry-run
   */
  @func({ cache: "never" })
  async deploy(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The environment (prod needs --tag release-<version>); default: resolved from --branch/--tag like plan. */
    env?: Environment,
    /** The branch being deployed, e.g. da/develop (Example: --branch $CIRCLE_BRANCH). Give a branch or a tag; default: the checkout's branch. */
    branch = "",
    /** The tag being deployed, e.g. release-v1.2.3 (Example: --tag $CIRCLE_TAG); default: on a detached HEAD, or with --env prod, a release tag at HEAD. */
    tag = "",
    /** The full 40-character commit sha (Example: --sha $CIRCLE_SHA1); default: the checkout's HEAD. */
    sha = "",
    /** Print the plan (exactly dagger call plan's output) and do nothing; default false. */
    dryRun = false,
    /** Output format of --dry-run (as plan). */
    format: OutputFormat = OutputFormat.text,
    /** Image of the container that clones and pushes infrastructure-live (needs git and ssh); default alpine/git:2.47.2. */
    gitImage = "alpine/git:2.47.2",
    /** How terragrunt reaches the EKS cluster: update_kubeconfig (aws eks update-kubeconfig in the terragrunt image, which then needs the AWS CLI) or none. */
    clusterAccess: ClusterAccess = ClusterAccess.update_kubeconfig,
    /** Deploy even when the checkout has uncommitted changes (the image then holds the working tree, tagged with HEAD's commit); default false. */
    allowDirty = false,
    /** The project's git checkout: the commit, branch and tags are read from it when --sha, --branch or --tag is not given; default: the project's repository root. */
    @argument({ defaultPath: CHECKOUT, ignore: CHECKOUT_IGNORE }) checkout?: Directory,
  ): Promise<string> {
    const ref = await refFromCheckout(source, checkout, { branch, tag, sha, env: env ?? "" }, { command: "deploy", uncommitted: dryRun || allowDirty ? "allow" : "refuse", gitImage });
    const report = await runDeploy(source, { env: env ?? "", ...ref.flags, dryRun, format, gitImage, clusterAccess }, this.credentials());
    return dryRun ? report : `deploying ${ref.description}\n${report}`;
  }

  /**
   * Deploy a feature environment for a feature/<name> branch, as the seed does in the dev cluster:
   * the app image tagged feat-<name>-<sha7>, the terragrunt configs of postgres, redis, pgadmin,
   * api, clockwork and sidekiq generated under feature.unitsRoot/<name> and committed in one commit,
   * then terragrunt apply of the dependencies first (postgres, redis) and the app units after, with
   * the same preflight, credentials and report as deploy.
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY with-git-credentials --ssh-key file:$HOME/.ssh/id_ed25519 feature-deploy --branch feature/new-loan-flow --sha $CIRCLE_SHA1
   */
  @func({ cache: "never" })
  async featureDeploy(
    /** The application repository; default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The feature branch, feature/<name> with letters, digits and dashes (Example: --branch $CIRCLE_BRANCH); default: the checkout's branch. */
    branch = "",
    /** The full 40-character commit sha (Example: --sha $CIRCLE_SHA1); default: the checkout's HEAD. */
    sha = "",
    /** Print the plan (exactly dagger call plan's output) and do nothing; default false. */
    dryRun = false,
    /** Image of the container that clones and pushes infrastructure-live; default alpine/git:2.47.2. */
    gitImage = "alpine/git:2.47.2",
    /** How terragrunt reaches the EKS cluster: update_kubeconfig or none. */
    clusterAccess: ClusterAccess = ClusterAccess.update_kubeconfig,
    /** Deploy even when the checkout has uncommitted changes; default false. */
    allowDirty = false,
    /** The project's git checkout: the commit, branch and tags are read from it when --sha, --branch or --tag is not given; default: the project's repository root. */
    @argument({ defaultPath: CHECKOUT, ignore: CHECKOUT_IGNORE }) checkout?: Directory,
  ): Promise<string> {
    const ref = await refFromCheckout(source, checkout, { branch, tag: "", sha, env: "" }, { command: "feature-deploy", uncommitted: dryRun || allowDirty ? "allow" : "refuse", gitImage });
    const report = await runDeploy(source, { env: "", ...ref.flags, tag: "", dryRun, format: "text", gitImage, clusterAccess }, this.credentials(), { requireFeature: true });
    return dryRun ? report : `deploying ${ref.description}\n${report}`;
  }

  /**
   * Tear a feature environment down (the seed's feature-cleanup.sh): terragrunt destroy of its units
   * in reverse apply order (app units first, then pgadmin, redis, postgres), skipping units whose
   * folder is already gone, then one infrastructure-live commit removing feature.unitsRoot/<name>.
   * The configs are removed only after every destroy succeeded; running it twice succeeds (nothing
   * to destroy, nothing to commit).
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY with-git-credentials --ssh-key file:$HOME/.ssh/id_ed25519 feature-teardown --name new-loan-flow
   * Example: dagger call with-git-credentials --ssh-key env:INFRA_LIVE_SSH_KEY feature-teardown --branch "$DELETED_REF"
   */
  @func({ cache: "never" })
  async featureTeardown(
    /** The application repository (its pipeline.json); default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The feature name: the part after feature/ in the branch (Example: --name new-loan-flow). */
    name = "",
    /** Instead of --name: the deleted branch as a webhook sends it, feature/<name> or refs/heads/feature/<name>; any other branch tears nothing down (Example: --branch "$DELETED_REF"). */
    branch = "",
    /** Image of the container that clones and pushes infrastructure-live; default alpine/git:2.47.2. */
    gitImage = "alpine/git:2.47.2",
    /** How terragrunt reaches the EKS cluster: update_kubeconfig or none. */
    clusterAccess: ClusterAccess = ClusterAccess.update_kubeconfig,
  ): Promise<string> {
    return runFeatureTeardownOf(source, { name, branch }, { gitImage, clusterAccess }, this.credentials());
  }

  /**
   * Tear down every feature environment under feature.unitsRoot whose feature/<name> branch is not
   * in --live-branches, one after the other (a failure does not stop the others; the call fails at
   * the end), and say which environments it kept. Folders that are not feature names are left alone.
   * An empty list is refused: a repository always has its default branch.
   *
   * Example: dagger call with-aws-credentials --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY with-git-credentials --ssh-key file:$HOME/.ssh/id_ed25519 feature-sweep --live-branches "$(git ls-remote --heads origin)"
   * Example: dagger call feature-sweep --live-branches da/develop,feature/new-loan-flow
   */
  @func({ cache: "never" })
  async featureSweep(
    /** The application repository (its pipeline.json); default: the project dagger call runs in. */
    @argument({ defaultPath: PROJECT, ignore: SOURCE_IGNORE }) source: Directory,
    /** The branches that exist, separated by commas or newlines; git ls-remote --heads and git branch -r output are accepted. */
    liveBranches: string,
    /** Image of the container that clones and pushes infrastructure-live; default alpine/git:2.47.2. */
    gitImage = "alpine/git:2.47.2",
    /** How terragrunt reaches the EKS cluster: update_kubeconfig or none. */
    clusterAccess: ClusterAccess = ClusterAccess.update_kubeconfig,
  ): Promise<string> {
    return runFeatureSweep(source, liveBranches, { gitImage, clusterAccess }, this.credentials());
  }
}
