/**
 * Feature environments: typed templates for the terragrunt.hcl of each feature unit (pure).
 *
 * Replaces the seed's `generate-dependency.sh <name> postgres|redis` and
 * `generate.sh <name> <unit> <image> <tag> <port> ['SERVER_FLAVOR = "..."']`: one file per unit of
 * `config.feature.units`, at `<feature.unitsRoot>/<name>/<unit>/terragrunt.hcl`. Units whose image is
 * `app` run the app image built for the feature (`<registry>/<repository>:feat-<name>-<sha7>`) and
 * depend on the feature's `dependency` units (postgres, redis), so terragrunt orders and wires them.
 */
import { imageRepository, type FeatureUnitConfig, type PipelineConfig } from "./config.js";
import { errorDetail, PipelineError, ProblemsError, type Problem } from "./errors.js";
import { assertHclExpression, formatHclString } from "./hcl.js";
import { parseExistingFeatureName, parseFeatureName } from "./refs.js";

/** Everything one generated terragrunt.hcl says; the template is a pure function of this. */
export interface FeatureUnitTemplate {
  featureName: string;
  unit: string;
  /** Kubernetes-safe name of the service: `<feature, lowercased>-<unit>`. */
  serviceName: string;
  /** Image repository without the tag. */
  image: string;
  tag: string;
  port?: number;
  /** The input carrying the tag (`config.infraLive.variableName`), so write-backs can retag a unit. */
  tagAttribute: string;
  /** `dependency` blocks: name and `config_path` relative to this unit's folder. */
  dependencies: { name: string; configPath: string }[];
  /** Extra inputs as HCL expressions, e.g. `{ SERVER_FLAVOR: '"worker"' }`. */
  extraInputs: Record<string, string>;
}

export interface FeatureUnitFile {
  unit: string;
  kind: FeatureUnitConfig["kind"];
  /** Whether the unit runs the app image built for the feature. */
  appImage: boolean;
  /** Folder of the unit in infrastructure-live: `<unitsRoot>/<name>/<unit>`. */
  dir: string;
  /** `<dir>/terragrunt.hcl`. */
  file: string;
  image: string;
  tag: string;
  /** The input holding the tag (`config.infraLive.variableName`). */
  tagAttribute: string;
  port: number | null;
  /** The generated terragrunt.hcl. */
  text: string;
}

export interface FeatureEnvInput {
  featureName: string;
  /** Tag of the feature's app image, `feat-<name>-<sha7>` (see `featureImageTag`). */
  appTag: string;
}

/** `<feature.unitsRoot>/<name>`: the folder that holds every unit of one feature environment. */
export function featureEnvRoot(config: PipelineConfig, featureName: string): string {
  // Only path safety here: teardown must reach folders made before the DNS rules (parseFeatureName).
  return `${config.feature.unitsRoot}/${parseExistingFeatureName(featureName)}`;
}

export function featureUnitDir(config: PipelineConfig, featureName: string, unit: string): string {
  return `${featureEnvRoot(config, featureName)}/${unit}`;
}

/** Kubernetes names are lowercase DNS labels; feature names may contain capitals. */
export function featureServiceName(featureName: string, unit: string): string {
  return `${featureName.toLowerCase()}-${unit}`;
}

/**
 * The files of a feature environment, in `config.feature.units` order. Throws FEATURE_NAME_INVALID
 * for a bad name and CONFIG_INVALID (every problem, with its config path) for bad extra inputs.
 */
export function planFeatureFiles(config: PipelineConfig, input: FeatureEnvInput): FeatureUnitFile[] {
  const featureName = parseFeatureName(input.featureName, "feature name", config.feature.units.map((u) => u.name));
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(input.appTag)) {
    throw new PipelineError("ARGUMENT_INVALID", `app image tag ${JSON.stringify(input.appTag)} is not a valid image tag`, {
      hint: "use feat-<name>-<sha7> as produced by featureImageTag()",
    });
  }
  checkFeatureUnits(config);
  const units = config.feature.units;
  const dependencies = units.filter((u) => u.kind === "dependency");
  const appRepository = imageRepository(config);
  return units.map((u) => {
    const appImage = u.image === "app";
    const image = appImage ? appRepository : u.image;
    const tag = appImage ? input.appTag : u.tag!;
    const dir = featureUnitDir(config, featureName, u.name);
    const text = renderFeatureUnit({
      featureName,
      unit: u.name,
      serviceName: featureServiceName(featureName, u.name),
      image,
      tag,
      port: u.port,
      tagAttribute: config.infraLive.variableName,
      dependencies: appImage ? dependencies.map((d) => ({ name: d.name, configPath: `../${d.name}` })) : [],
      extraInputs: u.extraInputs,
    });
    return {
      unit: u.name,
      kind: u.kind,
      appImage,
      dir,
      file: `${dir}/terragrunt.hcl`,
      image,
      tag,
      tagAttribute: config.infraLive.variableName,
      port: u.port ?? null,
      text,
    };
  });
}

const STANDARD_INPUTS = ["feature_name", "service_name", "image", "port"];

/** Validate extra inputs of every feature unit at once (names are identifiers, values expressions). */
export function checkFeatureUnits(config: PipelineConfig): void {
  const problems: Problem[] = [];
  const reserved = new Set([...STANDARD_INPUTS, config.infraLive.variableName]);
  config.feature.units.forEach((u, i) => {
    for (const [key, value] of Object.entries(u.extraInputs)) {
      const path = `feature.units[${i}].extraInputs.${key}`;
      if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) {
        problems.push({ path, message: "is not an HCL identifier", hint: "use letters, digits, _ and -, e.g. SERVER_FLAVOR" });
      } else if (reserved.has(key)) {
        problems.push({ path, message: `${key} is set by the template`, hint: "remove it; the pipeline writes it from the unit's image, tag and port" });
      }
      try {
        assertHclExpression(value, `${path} value`);
      } catch (err) {
        problems.push({ path, message: err instanceof PipelineError ? errorDetail(err).split("\n")[0]! : String(err), hint: `quote strings inside the JSON string, e.g. "\\"worker\\""` });
      }
    }
  });
  if (problems.length > 0) throw new ProblemsError("CONFIG_INVALID", "feature unit inputs are invalid", problems);
}

/** The terragrunt.hcl of one feature unit; `terraform fmt` style (aligned `=` inside inputs). */
export function renderFeatureUnit(t: FeatureUnitTemplate): string {
  const lines: string[] = [
    `# Generated by the pipeline for feature environment '${t.featureName}', unit '${t.unit}'.`,
    "# feature-deploy rewrites this file and feature-teardown deletes it: do not edit it by hand.",
    "",
    'include "root" {',
    "  path = find_in_parent_folders()",
    "}",
    "",
  ];
  for (const d of t.dependencies) {
    lines.push(`dependency ${formatHclString(d.name)} {`, `  config_path = ${formatHclString(d.configPath)}`, "}", "");
  }
  const inputs: [string, string][] = [
    ["feature_name", formatHclString(t.featureName)],
    ["service_name", formatHclString(t.serviceName)],
    ["image", formatHclString(t.image)],
    [t.tagAttribute, formatHclString(t.tag)],
  ];
  if (t.port !== undefined) inputs.push(["port", String(t.port)]);
  for (const [k, v] of Object.entries(t.extraInputs)) inputs.push([k, v]);
  const width = Math.max(...inputs.map(([k]) => k.length));
  lines.push("inputs = {", ...inputs.map(([k, v]) => `  ${k.padEnd(width)} = ${v}`), "}", "");
  return lines.join("\n");
}
