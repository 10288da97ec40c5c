/**
 * Text and JSON renderings of a `PipelinePlan`. Pure, so `dagger call plan`, `npm run plan` and
 * `deploy --dry-run` print byte-identical output.
 */
import { PipelineError } from "./errors.js";
import { formatInfraPlan } from "./infra-live-changes.js";
import type { PipelinePlan } from "./pipeline-plan.js";

export type PlanFormat = "text" | "json";

export function parsePlanFormat(format: string): PlanFormat {
  if (format === "text" || format === "json") return format;
  throw new PipelineError("ARGUMENT_INVALID", `--format ${JSON.stringify(format)} is not a plan format`, { hint: "use --format text or --format json" });
}

export function formatPlan(plan: PipelinePlan, format: PlanFormat): string {
  return format === "json" ? JSON.stringify(plan, null, 2) + "\n" : formatPlanText(plan);
}

const BASE_ACTION: Record<PipelinePlan["images"]["base"]["action"], string> = {
  "use-existing": "exists: pull it, build nothing",
  "build-and-push": "missing: build and push",
  "check-registry-then-build-if-missing": "ask the registry; build and push only if missing",
};

export function formatPlanText(plan: PipelinePlan): string {
  const { ref, images } = plan;
  const lines = [`ref          ${ref.kind} ${ref.name} @ ${ref.sha}`];
  if (plan.environment) {
    const e = plan.environment;
    lines.push(
      `environment  ${e.name}${e.featureName ? ` (feature ${e.featureName}, hosted in the dev cluster)` : ""}`,
      `aws          account ${e.awsAccountId}, region ${e.region}`,
      `role         ${e.roleArn}`,
      `cluster      ${e.eksClusterArn}`,
      `vpc          ${e.vpcName}`,
    );
  } else {
    lines.push(`environment  none: ${plan.reason}`);
  }
  lines.push(
    `checksum     ${images.base.checksum} (sha1 of Gemfile + Gemfile.lock + ${images.base.dockerfile})`,
    `base image   ${images.base.ref} (${images.base.devVariant ? "dev variant: development/test gems kept" : "prod variant"})`,
    `             ${BASE_ACTION[images.base.action]}`,
  );
  if (images.base.latestAlias) lines.push(`             alias ${images.base.latestAlias} after a successful push`);
  if (images.app) {
    const args = Object.entries(images.app.buildArgs).map(([k, v]) => `${k}=${v}`).join(" ");
    lines.push(`app image    ${images.app.ref}`, `             FROM the base image; build args ${args}`);
  }
  if (plan.infraLive) lines.push(formatInfraPlan(plan.infraLive));
  lines.push(`steps        ${plan.steps.join(" -> ")}`);
  return lines.join("\n") + "\n";
}
