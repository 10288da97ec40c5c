/**
 * Line numbers and explanations for a shared AWS credentials/config file. Pure.
 *
 * The AWS SDK's `fromIni` reads the file and resolves the profile (role_arn/source_profile chains,
 * credential_process, ...), but its errors name neither a line nor the setting to fix. This finds
 * the line of a setting (`locateSettings`: section headers and `key =` lines, nothing validated)
 * so messages can say `file:line [profile] key` and what to do, never a value.
 */
import { ProblemsError, type Problem } from "./errors.js";

export interface ProfileSetting {
  key: string;
  /** Kept only to find a line by value; never put in a message. */
  value: string;
  line: number;
}

export interface ProfileSection {
  /** `[name]` or `[profile name]` -> `name`. */
  name: string;
  line: number;
  settings: ProfileSetting[];
}

/** Sections and their `key = value` lines (keys lowercased), in file order. Malformed lines are skipped, as the SDK skips them. */
export function locateSettings(text: string): ProfileSection[] {
  const sections: ProfileSection[] = [];
  let current: ProfileSection | undefined;
  text.split("\n").forEach((raw, index) => {
    const line = raw.replace(/\r$/, "").trim();
    const header = /^\[\s*(?:profile\s+)?([^\]]*?)\s*\]$/.exec(line);
    if (header) {
      current = { name: header[1]!, line: index + 1, settings: [] };
      sections.push(current);
      return;
    }
    const eq = line.indexOf("=");
    if (!current || eq <= 0 || line.startsWith("#") || line.startsWith(";")) return;
    current.settings.push({ key: line.slice(0, eq).trim().toLowerCase(), value: line.slice(eq + 1).trim(), line: index + 1 });
  });
  return sections;
}

export function profileNames(text: string): string[] {
  return [...new Set(locateSettings(text).map((s) => s.name))].filter((n) => !n.startsWith("sso-session "));
}

/** The values a file holds under credential-looking keys (for redaction). */
export function secretValuesOf(text: string): string[] {
  return locateSettings(text)
    .flatMap((s) => s.settings)
    .filter((s) => /key|secret|token|password/.test(s.key))
    .map((s) => s.value)
    .filter((v) => v !== "");
}

function section(text: string, profile: string): ProfileSection | undefined {
  return locateSettings(text).find((s) => s.name === profile);
}

function setting(text: string, profile: string, key: string): ProfileSetting | undefined {
  return section(text, profile)?.settings.find((s) => s.key === key);
}

/** `credentials:12 [ci] aws_secret_access_key`: where a key with this value is set, or just the key. */
export function locateValue(text: string, path: string, key: string, value: string): string {
  for (const s of locateSettings(text)) {
    const hit = s.settings.find((x) => x.key === key && x.value === value);
    if (hit) return `${path}:${hit.line} [${s.name}] ${key}`;
  }
  return `${path} ${key}`;
}

const EXPORT_HINT = (profile: string, flags: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) =>
  `export temporary keys instead: eval "$(aws configure export-credentials --profile ${profile} --format env)" and pass ` +
  `${flags.accessKeyId} env:AWS_ACCESS_KEY_ID ${flags.secretAccessKey} env:AWS_SECRET_ACCESS_KEY ${flags.sessionToken} env:AWS_SESSION_TOKEN`;

export interface ProfileFailureContext {
  text: string;
  /** The file's label in messages, e.g. `--credentials-file`. */
  path: string;
  profile: string;
  /** The CLI flags named in hints. */
  flags: { profile: string; accessKeyId: string; secretAccessKey: string; sessionToken: string; webIdentityToken: string; roleArn: string };
}

/**
 * Why `fromIni` failed on this file, as problems at `file:line`: the SDK's message (`sdkMessage`)
 * says what happened, the file says where. Undefined when the failure is not about the file
 * (an STS refusal, a network error): the caller reports that as it is.
 */
export function explainProfileFailure(sdkMessage: string, ctx: ProfileFailureContext): ProblemsError | undefined {
  const problems = profileProblems(sdkMessage, ctx);
  return problems && new ProblemsError("AWS_CREDENTIALS_INVALID", "AWS credentials are invalid", problems);
}

function profileProblems(sdkMessage: string, ctx: ProfileFailureContext): Problem[] | undefined {
  const { text, path, profile, flags } = ctx;
  const chain = profileChain(text, profile);
  const at = (p: string, key?: string) => `${path}:${(key && setting(text, p, key)?.line) || section(text, p)?.line || 1}`;

  // Needs something that only exists on the caller's machine: say so before the SDK's words.
  for (const p of chain) {
    for (const [key, why] of [
      ["sso_session", "an SSO login"],
      ["sso_start_url", "an SSO login"],
      ["mfa_serial", "an MFA code typed in"],
    ] as const) {
      if (setting(text, p, key)) {
        return [{ path: at(p, key), message: `profile ${p} needs ${why} (${key}), which cannot happen inside the pipeline's container`, hint: EXPORT_HINT(p, flags) }];
      }
    }
    if (setting(text, p, "web_identity_token_file") && /ENOENT|no such file|token file/i.test(sdkMessage)) {
      return [{
        path: at(p, "web_identity_token_file"),
        message: `profile ${p} reads a token file, which the pipeline's container cannot see`,
        hint: `pass the token itself: ${flags.webIdentityToken} file:<that file> ${flags.roleArn} <role_arn>`,
      }];
    }
    if (setting(text, p, "credential_process") && /credential_process|Command failed|spawn|ENOENT/i.test(sdkMessage)) {
      // The SDK's message quotes the command line, which may hold a secret: it is not repeated.
      return [{
        path: at(p, "credential_process"),
        message: `the credential_process of profile ${p} failed inside the pipeline's container, where the program and its sessions may not exist`,
        hint: EXPORT_HINT(p, flags),
      }];
    }
  }

  if (/Detected a cycle attempting to resolve credentials/.test(sdkMessage)) {
    return [{ path: at(profile, "source_profile"), message: `source_profile loops: ${chain.join(" -> ")}`, hint: "end the chain at a profile with aws_access_key_id and aws_secret_access_key" }];
  }

  const unresolved = /Could not resolve credentials using profile: \[(.+?)\]/.exec(sdkMessage);
  if (!unresolved) return undefined;
  const missing = unresolved[1]!;
  const names = profileNames(text);
  if (!names.includes(missing)) {
    const referrer = locateSettings(text).find((s) => s.settings.some((x) => x.key === "source_profile" && x.value === missing));
    return [{
      path: referrer ? `${at(referrer.name, "source_profile")} [${referrer.name}] source_profile` : flags.profile,
      message: `profile ${missing} is not in ${path} (profiles: ${names.length ? names.join(", ") : "none"})`,
      hint: names.length ? `pass ${flags.profile} with one of: ${names.join(", ")}` : "the file has no [profile] sections",
    }];
  }
  const has = (key: string) => setting(text, missing, key) !== undefined;
  if (has("aws_access_key_id") !== has("aws_secret_access_key")) {
    const present = has("aws_access_key_id") ? "aws_access_key_id" : "aws_secret_access_key";
    const absent = present === "aws_access_key_id" ? "aws_secret_access_key" : "aws_access_key_id";
    return [{ path: `${at(missing, present)} [${missing}] ${absent}`, message: "is missing", hint: `add ${absent} to profile ${missing}, next to ${present}` }];
  }
  if (has("role_arn")) {
    return [{ path: at(missing, "role_arn"), message: `profile ${missing} has role_arn but no source_profile`, hint: "add source_profile = <the profile whose keys may assume the role>" }];
  }
  return [{
    path: at(missing),
    message: `profile ${missing} has no aws_access_key_id / aws_secret_access_key and no role_arn`,
    hint: "add the two keys, or role_arn with source_profile, or credential_process",
  }];
}

/** The profile and the source_profile chain behind it (stops at a repeat or a missing profile). */
function profileChain(text: string, profile: string): string[] {
  const chain: string[] = [];
  for (let p: string | undefined = profile; p !== undefined && section(text, p); ) {
    chain.push(p);
    if (chain.indexOf(p) !== chain.length - 1) break;
    const next: string | undefined = setting(text, p, "source_profile")?.value;
    p = next === p ? undefined : next;
  }
  return chain;
}
