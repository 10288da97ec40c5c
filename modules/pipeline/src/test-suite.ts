/**
 * Dagger wiring for `test` and `lint`: read → plan → run.
 *
 * Gems live in the dev-variant base image (keyed by the dependency checksum): the pushed
 * `base-dev-<sum>` when the registry has it (a cold CI engine pulls it instead of installing every
 * gem again), else built here once (BuildKit reuses it until Gemfile, Gemfile.lock or
 * Dockerfile.base change); every shard and lint start from that image. Each shard gets its own
 * postgres and redis (a label naming the shard keeps the engine from merging identical services),
 * runs the script from lib/shard-script.ts with `expect: Any`, and the reports of all shards are
 * merged by the pure lib/ functions. A shard the engine fails (a process killed by a signal:
 * `expect: Any` accepts exit codes 0-127 and 192-255 only, core/container.go) is reported as a
 * broken shard with its reason and stderr; the other shards' reports are kept.
 */
import { CacheSharingMode, Container, dag, Directory, File, ReturnType, type Service } from "@dagger.io/dagger";
import { hasAwsCredentials, type RunCredentials } from "./run-credentials.js";
import { baseImageContainer, buildSecrets, pullImage, registryFor } from "./images.js";
import { planBaseImageBuild, type BaseImageBuildPlan } from "./lib/image-build.js";
import { isEcr, type PipelineConfig } from "./lib/config.js";
import { errorMessage, PipelineError } from "./lib/errors.js";
import { readRetryReports } from "./lib/retries.js";
import { validateTestFlags } from "./lib/test-options.js";
import { formatShardScript, SHARD_CLIENTS_SCRIPT } from "./lib/shard-script.js";
import { formatNodeTimings } from "./lib/node-timings.js";
import { formatTestOutcome, TEST_OUTCOME_FILE } from "./lib/test-outcome.js";
import type { WorkerBatches } from "./lib/queue-plan.js";
import { formatExamplesJson, planTestRun, summariseTestRun, type ShardOutcome, type TestRunPlan, type TestRunResult } from "./lib/test-run.js";
import { QUEUE_PORT, readWorkerOutcome, runQueueWorkers } from "./test-queue.js";
import { TestStrategy } from "./test-strategy.js";
import { resolvePreviousFailures } from "./lib/only-failures.js";
import { readPreviousReport } from "./previous-report.js";
import { readConfig, readDependencyFiles } from "./source.js";
import { TestReport } from "./test-report.js";

export interface TestOptions {
  /** Default: pipeline.json `test.shards`. */
  shards?: number;
  /** -1: every shard in this call; otherwise only this one (CI parallelism across machines). */
  shardIndex: number;
  timings?: File;
  /** Rerun each shard's failed examples in a fresh process up to this many times (0: no retries). */
  retries?: number;
  /** Run only the examples that failed in `previous` (`--only-failures --previous`). */
  onlyFailures?: boolean;
  previous?: Directory;
  /** `static` (default): the plan's lists; `queue`: the shards pull batches from one queue service. */
  strategy?: TestStrategy;
}

const OUT = "/pipeline/out";
const APT_CACHE = "/var/cache/apt";
const SOURCE_EXCLUDE = ["tmp", "log", "node_modules", ".git", "test_results", ".pipeline"];

const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * The dev-variant base image: pulled when the registry has `base-dev-<sum>` (what base-image pushed),
 * else the very build `base-image` makes (one session builds it once). Asking the registry never
 * fails the run: without an answer the image is built here.
 */
export async function testBaseImage(source: Directory, config: PipelineConfig, plan: BaseImageBuildPlan, credentials: RunCredentials): Promise<Container> {
  if (isEcr(config) && !hasAwsCredentials(credentials.aws)) {
    log(`no AWS credentials to ask ECR for ${plan.ref}: building the base image here`);
  } else {
    try {
      const registry = await registryFor(config, credentials);
      if ((await registry.lookup(plan.repository, plan.tag)).exists) {
        log(`using the pushed base image ${plan.ref}`);
        return pullImage(plan.ref, registry, credentials.registryService);
      }
      log(`${plan.ref} is not in the registry yet: building the base image here`);
    } catch (err) {
      log(`could not ask the registry for ${plan.ref} (${errorMessage(err).split("\n")[0]}): building the base image here`);
    }
  }
  return baseImageContainer(source, plan, await buildSecrets(config, credentials));
}

/** The dev-variant base image with the app's gems, plus the clients the shard script needs, then the app's source. */
export async function testRunner(source: Directory, config: PipelineConfig, credentials: RunCredentials): Promise<Container> {
  const files = await readDependencyFiles(source, config); // fails early, naming Gemfile/Gemfile.lock/Dockerfile.base
  const plan = planBaseImageBuild({ config, files, devVariant: true, pushLatest: false });
  return (await testBaseImage(source, config, plan, credentials))
    .withMountedCache(APT_CACHE, dag.cacheVolume("pipeline-apt-cache"), { sharing: CacheSharingMode.Locked })
    .withExec(["sh", "-c", SHARD_CLIENTS_SCRIPT])
    // A mounted cache stays in every container made from this one, and the engine holds a LOCKED
    // volume's lock for the whole life of each exec and service that carries it
    // (core/container_exec.go, core/service.go lockMountedCaches): the shards would run one at a
    // time, and a shard bound to the queue service (made from this image) would wait for ever.
    .withoutMount(APT_CACHE)
    .withDirectory(config.images.workdir, source, { exclude: SOURCE_EXCLUDE })
    .withWorkdir(config.images.workdir);
}

/** Read what the planner needs: spec files, their sizes (fallback), previous timings. */
async function readTestInputs(source: Directory, config: PipelineConfig, timings?: File) {
  const specFiles = (await source.glob(config.test.specGlob)).sort();
  if (specFiles.length === 0) {
    throw new PipelineError("SOURCE_FILE_MISSING", `no spec files match ${config.test.specGlob} in the source directory`, {
      hint: "pass the application repository with --source <dir> (it needs a spec/ folder), or set test.specGlob in pipeline.json",
    });
  }
  let timingsText: string | undefined;
  let timingsSource = "(none)";
  if (timings) {
    timingsText = await timings.contents();
    timingsSource = `--timings ${await timings.name()}`;
  } else if (await source.exists(config.test.timingsCacheFile)) {
    // The previous run's merged timings, where CI restored its cache (merge-timings wrote it).
    timingsText = await source.file(config.test.timingsCacheFile).contents();
    timingsSource = config.test.timingsCacheFile;
  } else if (await source.exists(config.test.timingsFile)) {
    timingsText = await source.file(config.test.timingsFile).contents();
    timingsSource = config.test.timingsFile;
  }
  const sizes = timingsText === undefined ? await Promise.all(specFiles.map((f) => source.file(f).size())) : [];
  const fileSizes = Object.fromEntries(sizes.map((s, i) => [specFiles[i], s]));
  return { specFiles, timingsText, timingsSource, fileSizes };
}

/** Run the shards (all, or one) and collect their reports. Never throws on failing examples. */
export async function runTests(source: Directory, opts: TestOptions, credentials: RunCredentials = { aws: {} }): Promise<TestReport> {
  const queue = opts.strategy === TestStrategy.queue;
  validateTestFlags({ retries: opts.retries ?? 0, queue, shardIndex: opts.shardIndex, onlyFailures: opts.onlyFailures ?? false, previous: opts.previous !== undefined });
  const config = await readConfig(source);
  const inputs = await readTestInputs(source, config, opts.timings);
  const failed = opts.onlyFailures && opts.previous ? resolvePreviousFailures(await readPreviousReport(opts.previous)) : undefined;
  const plan = planTestRun({ ...inputs, shards: opts.shards ?? config.test.shards, shardIndex: opts.shardIndex, ...(failed ? { onlyExamples: failed.ids } : {}) });
  plan.warnings.push(...(failed?.warnings ?? []));
  const runner = await testRunner(source, config, credentials);
  let summary: TestRunResult;
  let outcomes: ShardOutcome[];
  let extra: Record<string, string> = {};
  if (queue) {
    ({ summary, outcomes, extra } = await runQueueWorkers(runner, plan, (index, worker) => runShard(runner, config, plan, index, opts, worker)));
  } else {
    outcomes = await Promise.all(plan.selected.map((index) => runShard(runner, config, plan, index, opts)));
    summary = summariseTestRun(plan, outcomes);
  }

  let report = dag
    .directory()
    .withNewFile("junit/merged.xml", summary.mergedJUnit)
    .withNewFile("timings.json", summary.timingsJson)
    .withNewFile("summary.txt", summary.text)
    .withNewFile("plan.json", JSON.stringify({ ...plan.shardPlan, coverage: plan.coverage }, null, 2) + "\n")
    .withNewFile(TEST_OUTCOME_FILE, formatTestOutcome({ ...summary, flaky: summary.flaky.length }));
  report = report.withNewFile("examples.json", formatExamplesJson(summary.examples));
  for (const [name, text] of Object.entries(extra)) report = report.withNewFile(name, text);
  for (const o of outcomes) report = report.withNewFile(`junit/shard-${o.index}.xml`, o.junit);
  for (const node of formatNodeTimings(plan.shardPlan, outcomes)) report = report.withNewFile(node.path, node.text);
  console.log(summary.text);
  return new TestReport(report, summary.text, summary.failures, summary.brokenShards, summary.flaky.length);
}

async function runShard(
  runner: Container,
  config: PipelineConfig,
  plan: TestRunPlan,
  index: number,
  opts: TestOptions,
  queue?: { service: Service; worker: string },
): Promise<ShardOutcome & { workerBatches?: WorkerBatches }> {
  const shard = plan.shardPlan.shards[index];
  const label = `shard-${index}-of-${plan.shardPlan.shards.length}`;
  // The label makes each shard's services distinct; identical definitions would be merged into one.
  const postgres = dag
    .container()
    .from(config.test.postgresImage)
    .withLabel("io.pipeline.test-shard", label)
    .withEnvVariable("POSTGRES_HOST_AUTH_METHOD", "trust") // a throwaway test database, no password to leak
    .withExposedPort(5432)
    .asService({ useEntrypoint: true });
  const redis = dag
    .container()
    .from(config.test.redisImage)
    .withLabel("io.pipeline.test-shard", label)
    .withExposedPort(6379)
    .asService({ useEntrypoint: true });
  const script = formatShardScript({
    shardIndex: index,
    shardCount: plan.shardPlan.shards.length,
    // A queue worker takes its work from the queue (whose last batch is the catch-all), not from the plan.
    units: queue ? [] : shard.units,
    catchAll: queue ? undefined : plan.catchAll[index],
    setupCommands: config.test.setupCommands,
    outDir: OUT,
    postgres: { host: "postgres", port: 5432 },
    redis: { host: "redis", port: 6379 },
    retries: opts.retries ?? 0,
    ...(queue ? { queue: { host: "queue", port: QUEUE_PORT, worker: queue.worker } } : {}),
  });
  const ran = (queue ? runner.withServiceBinding("queue", queue.service) : runner)
    .withServiceBinding("postgres", postgres)
    .withServiceBinding("redis", redis)
    .withEnvVariable("RAILS_ENV", "test")
    .withEnvVariable("DATABASE_URL", "postgres://postgres@postgres:5432/app_test")
    .withEnvVariable("REDIS_URL", "redis://redis:6379/0")
    .withEnvVariable("TEST_SHARD", label)
    .withNewFile("/pipeline/run-shard.sh", script)
    .withExec(["bash", "/pipeline/run-shard.sh"], { expect: ReturnType.Any });
  try {
    // stderr holds the script's reasons (services not ready, setup failed) and rspec's load errors.
    const [exitCode, stdout, stderr] = await Promise.all([ran.exitCode(), ran.stdout(), ran.stderr()]);
    const out = ran.directory(OUT);
    const entries = await out.entries();
    const read = async (name: string) => (entries.includes(name) ? out.file(name).contents() : undefined);
    const [junit, rspecJson, seconds] = await Promise.all([read("junit.xml"), read("rspec.json"), read("seconds")]);
    const retries = await readRetryReports(read);
    const outcome = { index, exitCode, output: stdout, stderr, junit: junit ?? "", rspecJson, seconds: seconds === undefined ? undefined : Number(seconds), ...retries };
    return queue ? readWorkerOutcome(outcome, queue.worker, read) : outcome;
  } catch (err) {
    // The engine failed the exec (killed by a signal: 137, 139, 143...) or its services never
    // started: this shard is broken, the others still report. In module mode the SDK's ExecError
    // class is not exported, hence the name check.
    const e = err as { name?: string; exitCode?: number; stdout?: string; stderr?: string };
    const exec = e.name === "ExecError" && typeof e.exitCode === "number";
    return { index, exitCode: exec ? e.exitCode! : -1, output: e.stdout ?? "", stderr: e.stderr ?? "", junit: "", failure: errorMessage(err).split("\n")[0] };
  }
}

/** Run the configured linter (rubocop) in the same image the tests use. */
export async function runLint(source: Directory, credentials: RunCredentials = { aws: {} }): Promise<string> {
  const config = await readConfig(source);
  const runner = await testRunner(source, config, credentials);
  return runner.withExec(config.test.lintCommand).stdout();
}
