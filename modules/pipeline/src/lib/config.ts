/**
 * The pipeline configuration: one typed object, validated once at the edge.
 *
 * A repository may hold `pipeline.json` (or `pipeline.yaml`); any key it leaves out takes the
 * built-in default, and the defaults reproduce the seed flow exactly (accounts, paths, unit order,
 * branch rules), so a repo without a config file behaves like today's CircleCI + bash setup.
 */
import { z } from "zod";
import { ProblemsError, type Problem } from "./errors.js";
import { MAX_SHARDS } from "./shard-planner.js";

const accountId = z.string().regex(/^\d{12}$/, "expected 12 digits");
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "expected an AWS region like us-west-2");
const nonEmpty = z.string().min(1, "must not be empty");
const unitName = z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "expected lowercase letters, digits and dashes");
const relPath = z
  .string()
  .min(1, "must not be empty")
  .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a relative path inside the repository");
const roleArn = z.string().regex(/^arn:aws:iam::\d{12}:role\/[\w+=,.@/-]+$/, "expected arn:aws:iam::<account>:role/<name>");
const clusterArn = z.string().regex(/^arn:aws:eks:[a-z0-9-]+:\d{12}:cluster\/[\w-]+$/, "expected arn:aws:eks:<region>:<account>:cluster/<name>");
const command = z.array(nonEmpty).min(1, "expected a command as an array of words");

export const ENVIRONMENT_NAMES = ["dev", "stage", "prod"] as const;
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

const infraLiveSchema = z.strictObject({
  /** Units in apply order: name -> folder holding its terragrunt.hcl. */
  units: z
    .array(z.strictObject({ name: unitName, path: relPath }))
    .min(1, "list at least one terragrunt unit"),
});

const environmentSchema = z.strictObject({
  awsAccountId: accountId,
  region,
  roleArn,
  eksClusterArn: clusterArn,
  vpcName: nonEmpty,
  /** dev/stage keep development and test gems (lines marked remove-for-dev are dropped). */
  devVariant: z.boolean(),
  /** KMS key (id, ARN or alias) used by `encrypt-value` for this environment's env file. */
  kmsKeyId: nonEmpty,
  infraLive: infraLiveSchema,
});
export type EnvironmentConfig = z.infer<typeof environmentSchema>;

const featureUnitSchema = z.strictObject({
  name: unitName,
  kind: z.enum(["dependency", "service"]),
  /** `app` means the app image built for this feature; otherwise an image reference. */
  image: z.union([z.literal("app"), nonEmpty]),
  tag: z.string().optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** Extra terragrunt inputs, as HCL attribute lines (e.g. `SERVER_FLAVOR = "worker"`). */
  extraInputs: z.record(z.string(), z.string()).default({}),
});
export type FeatureUnitConfig = z.infer<typeof featureUnitSchema>;

const refRuleSchema = z.discriminatedUnion("match", [
  z.strictObject({ match: z.literal("branch"), name: nonEmpty, environment: z.enum(ENVIRONMENT_NAMES) }),
  z.strictObject({
    match: z.literal("tag"),
    /** A prefix: the rest of the tag is the version used as the image tag. */
    prefix: nonEmpty,
    environment: z.enum(ENVIRONMENT_NAMES),
  }),
  z.strictObject({ match: z.literal("feature"), prefix: nonEmpty }),
]);
export type RefRule = z.infer<typeof refRuleSchema>;

export const configSchema = z.strictObject({
  registry: z.strictObject({
    /** ECR account and region; the registry host is derived unless `host` is set. */
    awsAccountId: accountId,
    region,
    repository: z.string().regex(/^[a-z0-9]+([._/-][a-z0-9]+)*$/, "expected a lowercase repository name like rails-api"),
    /** Any OCI registry host instead of ECR (e.g. 127.0.0.1:5000 for a local registry). */
    host: z.string().regex(/^[\w.-]+(:\d+)?$/, "expected host or host:port").optional(),
    /**
     * `registry.host` speaks plain HTTP, not HTTPS (a registry inside your network without TLS;
     * loopback hosts always do). The Dagger engine, which pulls and pushes, must allow it too.
     */
    plainHttp: z.boolean(),
    /** Alias pushed for the base image from the develop branch. */
    baseLatestTag: nonEmpty,
  }),
  images: z.strictObject({
    baseDockerfile: relPath,
    appDockerfile: relPath,
    rubyImage: nonEmpty,
    /** Lines of the base Dockerfile containing this marker are dropped for the dev variant. */
    devVariantMarker: nonEmpty,
    /** BuildKit secret id under which the GitHub token is mounted (`RUN --mount=type=secret,id=...`). */
    githubTokenSecretId: z.string().regex(/^[\w-]+$/, "expected letters, digits, _ or -"),
    /** Folder of the app inside the image (the seed's /var/www/blinker). */
    workdir: z.string().startsWith("/", "expected an absolute path"),
  }),
  test: z.strictObject({
    shards: z.number().int().min(1, "must be at least 1").max(MAX_SHARDS, `must be at most ${MAX_SHARDS}`),
    postgresImage: nonEmpty,
    redisImage: nonEmpty,
    specGlob: nonEmpty,
    /** Commands run in each shard before rspec, after postgres and redis are ready. */
    setupCommands: z.array(command),
    /** Committed timings used when no --timings file is passed. */
    timingsFile: relPath,
    /** The previous run's merged timings, where CI restores its cache (absent on a first run); read before timingsFile. */
    timingsCacheFile: relPath,
    lintCommand: command,
  }),
  environments: z.strictObject({ dev: environmentSchema, stage: environmentSchema, prod: environmentSchema }),
  feature: z.strictObject({
    /** The environment whose cluster and account host feature environments. */
    hostEnvironment: z.enum(ENVIRONMENT_NAMES),
    /** Folder in infrastructure-live under which `<name>/<unit>/terragrunt.hcl` is generated. */
    unitsRoot: relPath,
    /** Units in apply order; teardown runs them in reverse. */
    units: z.array(featureUnitSchema).min(1, "list at least one feature unit"),
  }),
  refs: z.array(refRuleSchema).min(1, "list at least one branch/tag rule"),
  infraLive: z.strictObject({
    repoUrl: nonEmpty,
    branch: nonEmpty,
    /** The terragrunt input that carries the image tag. */
    variableName: z.string().regex(/^[A-Za-z_][\w-]*$/, "expected an HCL identifier"),
    gitUserName: nonEmpty,
    gitUserEmail: z.string().regex(/^[^@\s]+@[^@\s]+$/, "expected an e-mail address"),
    skipCiFlag: z.string(),
  }),
  terragrunt: z.strictObject({
    image: nonEmpty,
    /** Words after `terragrunt`; `{dir}` is replaced by the unit folder. Flags changed across versions. */
    applyArgs: z.array(nonEmpty),
    destroyArgs: z.array(nonEmpty),
  }),
  secrets: z.strictObject({
    /** Key fragments that mark a value as secret in stage/prod env files. */
    secretKeyPatterns: z.array(nonEmpty),
    /** Keys allowed to hold plaintext even though they match a pattern. */
    plaintextAllowList: z.array(nonEmpty),
  }),
});

export type PipelineConfig = z.infer<typeof configSchema>;

const unitsFor = (env: string) => [
  { name: "clockwork", path: `${env}/us-west-2/${env}/apps/clockwork` },
  { name: "sidekiq", path: `${env}/us-west-2/${env}/apps/sidekiq` },
  { name: "rails-api", path: `${env}/us-west-2/${env}/apps/rails-api` },
];

const environmentDefaults = (name: EnvironmentName, account: string, devVariant: boolean): EnvironmentConfig => ({
  awsAccountId: account,
  region: "us-west-2",
  roleArn: `arn:aws:iam::${account}:role/auto-deploy`,
  eksClusterArn: `arn:aws:eks:us-west-2:${account}:cluster/eks-${name}`,
  vpcName: name,
  devVariant,
  kmsKeyId: `alias/${name}-env`,
  infraLive: { units: unitsFor(name) },
});

/** The seed flow, value for value. Stage is not in the seed's set_env output: it mirrors dev's account. */
export const DEFAULT_CONFIG: PipelineConfig = {
  registry: { awsAccountId: "004671295794", region: "us-west-2", repository: "rails-api", baseLatestTag: "base-dev-latest", plainHttp: false },
  images: {
    baseDockerfile: "Dockerfile.base",
    appDockerfile: "Dockerfile",
    rubyImage: "ruby:3.1.4",
    devVariantMarker: "remove-for-dev",
    githubTokenSecretId: "github_token",
    workdir: "/var/www/blinker",
  },
  test: {
    shards: 8,
    postgresImage: "postgres:15",
    redisImage: "redis:7",
    specGlob: "spec/**/*_spec.rb",
    setupCommands: [["bundle", "exec", "rake", "db:create", "db:schema:load"]],
    timingsFile: "spec/timings.json",
    timingsCacheFile: ".pipeline/timings.json",
    lintCommand: ["bundle", "exec", "rubocop", "--no-parallel"],
  },
  environments: {
    dev: environmentDefaults("dev", "392216643236", true),
    stage: environmentDefaults("stage", "392216643236", true),
    prod: environmentDefaults("prod", "872406820375", false),
  },
  feature: {
    hostEnvironment: "dev",
    unitsRoot: "dev/us-west-2/dev/apps/features",
    units: [
      { name: "postgres", kind: "dependency", image: "postgres", tag: "15", port: 5432, extraInputs: {} },
      { name: "redis", kind: "dependency", image: "redis", tag: "7", port: 6379, extraInputs: {} },
      { name: "pgadmin", kind: "service", image: "rubysolo/pgadmin4-auto", tag: "latest", port: 80, extraInputs: {} },
      { name: "api", kind: "service", image: "app", port: 8080, extraInputs: { SERVER_FLAVOR: '"server"' } },
      { name: "clockwork", kind: "service", image: "app", port: 8080, extraInputs: { SERVER_FLAVOR: '"scheduler"' } },
      { name: "sidekiq", kind: "service", image: "app", port: 8080, extraInputs: { SERVER_FLAVOR: '"worker"' } },
    ],
  },
  refs: [
    { match: "branch", name: "da/develop", environment: "dev" },
    { match: "branch", name: "da/stage", environment: "stage" },
    { match: "tag", prefix: "release-", environment: "prod" },
    { match: "feature", prefix: "feature/" },
  ],
  infraLive: {
    repoUrl: "git@github.com:BlinkerGit/infrastructure-live.git",
    branch: "main",
    variableName: "image_version",
    gitUserName: "BlinkerCI",
    gitUserEmail: "blinkerci@blinker.com",
    skipCiFlag: "[ci skip]",
  },
  terragrunt: {
    image: "alpine/terragrunt:1.9.8",
    applyArgs: ["apply", "--terragrunt-working-dir", "{dir}", "-input=false", "-auto-approve"],
    destroyArgs: ["destroy", "--terragrunt-working-dir", "{dir}", "-input=false", "-auto-approve"],
  },
  secrets: {
    // PASS/PASSWD/PWD/PASSPHRASE, AUTH, BEARER and SALT: names of secrets the first six missed (DB_PASS, *_SALT).
    secretKeyPatterns: ["PASSWORD", "PASSWD", "PASSPHRASE", "PASS", "PWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL", "PRIVATE", "AUTH", "BEARER", "SALT"],
    plaintextAllowList: [],
  },
};

/** Hints for the problems users hit most, keyed by the last path segment. */
const HINTS: Record<string, string> = {
  awsAccountId: "use the 12-digit account number, quoted as a string",
  region: "use an AWS region code such as us-west-2",
  roleArn: "copy the role ARN from the IAM console",
  eksClusterArn: "copy the cluster ARN from `aws eks describe-cluster`",
  shards: `use a whole number between 1 and ${MAX_SHARDS}`,
};

/**
 * Validate a user config (already parsed from JSON/YAML) merged over the defaults.
 * Objects merge key by key; arrays and scalars replace. Throws `ProblemsError` listing
 * every problem at once, each with its dotted path and a fix.
 */
export function parseConfig(raw: unknown, source = "pipeline.json"): PipelineConfig {
  if (raw !== undefined && (typeof raw !== "object" || raw === null || Array.isArray(raw))) {
    throw new ProblemsError("CONFIG_INVALID", `${source} is invalid`, [
      {
        path: "(root)",
        message: `expected an object, got ${raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw}`,
        hint: "write the config as an object ({} keeps every default), or delete the file",
      },
    ]);
  }
  // Before merging: merging is where a `__proto__` key would set a value through the prototype.
  const prototypeKeys = prototypeKeyProblems(raw);
  if (prototypeKeys.length > 0) throw new ProblemsError("CONFIG_INVALID", `${source} is invalid`, prototypeKeys);
  const merged = deepMerge(DEFAULT_CONFIG, raw ?? {});
  const result = configSchema.safeParse(merged);
  const problems: Problem[] = result.success ? [] : result.error.issues.map(toProblem);
  if (result.success) problems.push(...crossCheck(result.data));
  if (problems.length > 0) throw new ProblemsError("CONFIG_INVALID", `${source} is invalid`, problems);
  return result.data as PipelineConfig;
}

function toProblem(issue: z.core.$ZodIssue): Problem {
  const path = formatPath(issue.path);
  const last = String(issue.path.at(-1) ?? "");
  let hint = HINTS[last];
  if (issue.code === "unrecognized_keys") hint = `remove it or check the spelling; see the configuration reference in README.md`;
  const message = issue.code === "unrecognized_keys" ? `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}` : issue.message;
  return { path, message, hint };
}

export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(root)";
  return path.reduce<string>((acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc ? `${acc}.${String(seg)}` : String(seg)), "");
}

/** Rules that span several keys, which a per-field schema cannot see. */
function crossCheck(config: PipelineConfig): Problem[] {
  const problems: Problem[] = [];
  for (const name of ENVIRONMENT_NAMES) {
    const env = config.environments[name];
    const roleAccount = env.roleArn.split(":")[4];
    if (roleAccount !== env.awsAccountId) {
      problems.push({
        path: `environments.${name}.roleArn`,
        message: `role is in account ${roleAccount} but the environment's awsAccountId is ${env.awsAccountId}`,
        hint: "use a role in the environment's own account",
      });
    }
    const clusterAccount = env.eksClusterArn.split(":")[4];
    if (clusterAccount !== env.awsAccountId) {
      problems.push({
        path: `environments.${name}.eksClusterArn`,
        message: `cluster is in account ${clusterAccount} but the environment's awsAccountId is ${env.awsAccountId}`,
        hint: "use the cluster of the environment's own account",
      });
    }
    problems.push(...duplicates(env.infraLive.units.map((u) => u.name), `environments.${name}.infraLive.units`));
  }
  problems.push(...duplicates(config.feature.units.map((u) => u.name), "feature.units"));
  config.feature.units.forEach((u, i) => {
    if (u.image !== "app" && !u.tag) {
      problems.push({ path: `feature.units[${i}].tag`, message: `unit ${u.name} uses image ${u.image} without a tag`, hint: 'set "tag", e.g. "latest"' });
    }
  });
  const seen = new Map<string, number>();
  config.refs.forEach((rule, i) => {
    const key = rule.match === "branch" ? `branch:${rule.name}` : `${rule.match}:${rule.prefix}`;
    if (seen.has(key)) {
      problems.push({ path: `refs[${i}]`, message: `repeats refs[${seen.get(key)}] (${key})`, hint: "remove one of the two rules" });
    } else seen.set(key, i);
  });
  if (config.refs.filter((r) => r.match === "feature").length > 1) {
    problems.push({ path: "refs", message: "more than one feature rule", hint: "keep a single { match: \"feature\" } rule" });
  }
  return problems;
}

function duplicates(names: string[], path: string): Problem[] {
  const dup = names.filter((n, i) => names.indexOf(n) !== i);
  return [...new Set(dup)].map((n) => ({ path, message: `unit ${n} is listed twice`, hint: "give each unit a distinct name" }));
}

/**
 * Keys that reach an object's prototype: `JSON.parse` and the YAML parser keep `__proto__` as an
 * own key, and copying it onto another object (a merge) replaces that object's prototype, so
 * `{"registry":{"__proto__":{"host":"evil.example.com:5000"}}}` would make every image point
 * elsewhere while passing strict validation. No config key is named like this, so all three are
 * refused wherever they appear.
 */
export const PROTOTYPE_KEYS: readonly string[] = ["__proto__", "constructor", "prototype"];

/** Every prototype key in a parsed config, with its path (iterative: nesting depth is the input's). */
export function prototypeKeyProblems(raw: unknown): Problem[] {
  const problems: Problem[] = [];
  const pending: Array<{ value: unknown; path: PropertyKey[] }> = [{ value: raw, path: [] }];
  while (pending.length > 0) {
    const { value, path } = pending.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (Array.isArray(value)) {
      value.forEach((item, i) => pending.push({ value: item, path: [...path, i] }));
      continue;
    }
    for (const key of Object.keys(value)) {
      if (PROTOTYPE_KEYS.includes(key)) {
        problems.push({
          path: formatPath([...path, key]),
          message: `the key ${key} is not allowed (it would change the prototype of the object it is merged into)`,
          hint: "remove it; no pipeline setting has this name",
        });
        continue;
      }
      pending.push({ value: (value as Record<string, unknown>)[key], path: [...path, key] });
    }
  }
  return problems.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; everything else in `override` replaces the default. */
export function deepMerge<T>(base: T, override: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(override)) return (override === undefined ? base : override) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) {
    // Defined, not assigned: even a key parseConfig would refuse cannot reach the prototype here.
    const value = Object.hasOwn(base, k) ? deepMerge((base as Record<string, unknown>)[k], v) : v;
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out as T;
}

/** `host/repository` of the registry: ECR's host unless an explicit host is configured. */
export function registryHost(config: PipelineConfig): string {
  const r = config.registry;
  return r.host ?? `${r.awsAccountId}.dkr.ecr.${r.region}.amazonaws.com`;
}

export function isEcr(config: PipelineConfig): boolean {
  return config.registry.host === undefined;
}

export function imageRepository(config: PipelineConfig): string {
  return `${registryHost(config)}/${config.registry.repository}`;
}
