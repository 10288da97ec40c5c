/**
 * Just enough of a Dockerfile frontend for the engine model: which image config a `dockerBuild`
 * produces (FROM chains, ARG/ENV substitution, ENV, WORKDIR, EXPOSE, ENTRYPOINT, CMD, USER, LABEL,
 * HEALTHCHECK), which image each stage starts from, and which secrets its RUN lines mount. Nothing is
 * run: the commands of RUN lines are what the integration tests run for real with docker.
 */
import { emptyImageConfig, type ImageConfig } from "./rules.js";

export interface DockerfileSecretMount {
  id: string;
  required: boolean;
  /** The RUN line, for error messages. */
  line: number;
}

export interface DockerfileResult {
  config: ImageConfig;
  /** The external image the final stage descends from (after stage names are resolved). */
  baseImage: string;
  /** Every external image some stage starts from. */
  images: string[];
  secretMounts: DockerfileSecretMount[];
  /** The commands of the RUN lines of the stages the final stage depends on, in order. */
  runs: string[];
}

interface Instruction {
  keyword: string;
  rest: string;
  line: number;
}

function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are dropped
      line = line.replace(/\\\s*$/, " ") + next;
    }
    const m = /^\s*(\w+)\s*(.*)$/.exec(line);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), rest: m[2]!.replace(/\s+#.*$/, "").trim(), line: start + 1 });
  }
  return out;
}

/** `${VAR}`, `${VAR:-default}`, `$VAR` from `vars`. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)/g, (_, a: string | undefined, def: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    const value = vars[name];
    return value !== undefined && value !== "" ? value : (def ?? "");
  });
}

function parseJsonOrShell(rest: string): string[] {
  if (rest.startsWith("[")) {
    try {
      const parsed = JSON.parse(rest) as unknown;
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      /* falls through to the shell form */
    }
  }
  return ["/bin/sh", "-c", rest];
}

function parseKeyValues(rest: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  if (!/^\S+=/.test(rest)) {
    const m = /^(\S+)\s+(.*)$/.exec(rest);
    if (m) pairs.push([m[1]!, unquote(m[2]!)]);
    return pairs;
  }
  for (const m of rest.matchAll(/(\w[\w.-]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) pairs.push([m[1]!, unquote(m[2]!)]);
  return pairs;
}

function unquote(v: string): string {
  if (v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, "$1");
  if (v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  return v;
}

interface Stage {
  name?: string;
  config: ImageConfig;
  vars: Record<string, string>;
  baseImage: string;
  secretMounts: DockerfileSecretMount[];
  runs: string[];
  /** The stage this one starts FROM, if any. */
  parent?: Stage;
}

/**
 * Evaluate a Dockerfile's metadata. `imageConfig(ref)` gives the config of an external image
 * (`undefined`: an empty config). `target` selects a stage by name; default the last one.
 */
export function evaluateDockerfile(
  text: string,
  options: { buildArgs?: Record<string, string>; target?: string; imageConfig?: (ref: string) => ImageConfig | undefined } = {},
): DockerfileResult {
  const buildArgs = options.buildArgs ?? {};
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  const images = new Set<string>();
  let stage: Stage | undefined;
  for (const ins of instructions(text)) {
    const env = () => Object.fromEntries(stage!.config.env);
    const expand = (s: string) => substitute(s, { ...stage!.vars, ...env() });
    switch (ins.keyword) {
      case "ARG": {
        const [name, def] = ins.rest.split("=", 2) as [string, string | undefined];
        const value = buildArgs[name] ?? (def !== undefined ? unquote(stage ? expand(def) : substitute(def, globalArgs)) : stage ? globalArgs[name] : undefined);
        if (stage) stage.vars[name] = value ?? "";
        else globalArgs[name] = value ?? "";
        break;
      }
      case "FROM": {
        const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins.rest);
        if (!m) throw new Error(`Dockerfile line ${ins.line}: FROM without an image`);
        const ref = substitute(m[1]!, globalArgs);
        if (!ref) throw new Error(`Dockerfile line ${ins.line}: FROM ${m[1]} resolves to an empty image name (missing build arg?)`);
        const parent = stages.find((s) => s.name !== undefined && s.name.toLowerCase() === ref.toLowerCase());
        const base = parent ? structuredClone(parent.config) : (options.imageConfig?.(ref) ?? emptyImageConfig());
        if (!parent) images.add(ref);
        stage = { name: m[2], config: structuredClone(base), vars: {}, baseImage: parent ? parent.baseImage : ref, secretMounts: [], runs: [], parent };
        stages.push(stage);
        break;
      }
      default: {
        if (!stage) throw new Error(`Dockerfile line ${ins.line}: ${ins.keyword} before the first FROM`);
        const c = stage.config;
        switch (ins.keyword) {
          case "ENV":
            for (const [k, v] of parseKeyValues(ins.rest)) {
              const value = expand(v);
              c.env = [...c.env.filter(([n]) => n !== k), [k, value]];
            }
            break;
          case "WORKDIR": {
            const dir = expand(ins.rest);
            c.workdir = dir.startsWith("/") ? dir : `${c.workdir.replace(/\/$/, "")}/${dir}`;
            break;
          }
          case "EXPOSE":
            for (const p of expand(ins.rest).split(/\s+/).filter(Boolean)) {
              const port = p.includes("/") ? p.toLowerCase() : `${p}/tcp`;
              if (!c.exposedPorts.includes(port)) c.exposedPorts.push(port);
            }
            break;
          case "ENTRYPOINT":
            c.entrypoint = parseJsonOrShell(ins.rest);
            c.cmd = null; // an ENTRYPOINT resets the inherited CMD
            break;
          case "CMD":
            c.cmd = parseJsonOrShell(ins.rest);
            break;
          case "USER":
            c.user = expand(ins.rest);
            break;
          case "LABEL":
            for (const [k, v] of parseKeyValues(ins.rest)) c.labels[k] = expand(v);
            break;
          case "HEALTHCHECK":
            c.healthcheck = /^NONE$/i.test(ins.rest) ? undefined : ["CMD-SHELL", ins.rest.replace(/^.*?CMD\s+/i, "")];
            break;
          case "RUN": {
            let rest = ins.rest;
            for (;;) {
              const flag = /^--(\w+)=(\S+)\s*/.exec(rest);
              if (!flag) break;
              rest = rest.slice(flag[0].length);
              if (flag[1] !== "mount") continue;
              const opts: Record<string, string> = Object.fromEntries(flag[2]!.split(",").map((kv) => [kv.split("=")[0]!, kv.includes("=") ? kv.slice(kv.indexOf("=") + 1) : "true"]));
              if (opts.type === "secret") {
                stage.secretMounts.push({ id: opts.id ?? opts.target?.split("/").pop() ?? "", required: opts.required === "true", line: ins.line });
              }
            }
            stage.runs.push(rest);
            break;
          }
          default:
            break; // COPY, ADD, SHELL, STOPSIGNAL, ONBUILD, VOLUME: no effect on what the model checks
        }
      }
    }
  }
  if (stages.length === 0) throw new Error("Dockerfile has no FROM");
  const final = options.target ? stages.find((s) => s.name === options.target) : stages.at(-1);
  if (!final) throw new Error(`target stage ${options.target} could not be found`);
  // The final stage needs the stages it descends from (FROM <stage>): their RUN lines ran too.
  const chain: Stage[] = [];
  for (let s: Stage | undefined = final; s; s = s.parent) chain.unshift(s);
  return {
    config: final.config,
    baseImage: final.baseImage,
    images: [...images],
    secretMounts: chain.flatMap((s) => s.secretMounts),
    runs: chain.flatMap((s) => s.runs),
  };
}
