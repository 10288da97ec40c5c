/**
 * Issue #11 item 6, as properties of check-env in an encrypted environment (prod):
 * 1. no plaintext secret shape passes: whatever the surrounding file, a line holding a plaintext
 *    secret (secret-looking name, text beside a token, URL credentials, `?token=`, a DSN password,
 *    a private PEM block) gets a problem at its line, and no problem quotes the secret;
 * 2. no false alarm on the example app: its stage/prod files, shuffled, with fresh tokens and
 *    extra lines of the same kinds (settings, URLs without credentials, tokens in URLs), pass.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../../modules/pipeline/src/lib/config.js";
import { checkEnvText } from "../../modules/pipeline/src/lib/env-check.js";
import { propertyParameters } from "../support/property.js";

const OPTIONS = { environment: "prod", patterns: DEFAULT_CONFIG.secrets.secretKeyPatterns, allowList: [] as string[] };
const example = (env: string) => readFileSync(new URL(`../fixtures/rails-api/config/${env}.env`, import.meta.url), "utf8");

/** The base64 of a KMS blob (version 1, type 2 header: `AQICAH...`), like encrypt-value prints. */
const kmsToken = fc
  .uint8Array({ minLength: 16, maxLength: 120 })
  .map((body) => `kmscrypt::${Buffer.from([1, 2, 2, 0, 0x78, ...body]).toString("base64")}`);

/** A plaintext secret as people have them: 8-40 characters, letters and digits with a few symbols. */
const secret = fc
  .stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.!*+-]{7,39}$/)
  .filter((s) => /[A-Za-z]/.test(s) && /[0-9]/.test(s));

const word = fc.constantFrom("APP", "DB", "GITHUB", "STRIPE", "SMTP", "GPG", "SLACK", "DEVISE", "MAIN", "X");
const secretWord = fc.constantFrom("PASSWORD", "PASSWD", "PASSPHRASE", "PASS", "PWD", "TOKEN", "SECRET", "KEY", "CREDENTIALS", "PRIVATE_KEY", "AUTH", "BEARER", "SALT", "API_KEY", "TOKENS");
/** `DB_PASS`, `SMTP_PASSWD`, `GITHUBTOKEN`, `PASSWORD`: whole or glued, with or without a prefix. */
const secretKey = fc
  .tuple(fc.option(word, { nil: undefined }), secretWord, fc.boolean())
  .map(([prefix, w, glued]) => (prefix === undefined ? w : glued ? `${prefix}${w}` : `${prefix}_${w}`));
/** Names that carry no hint of a secret: only the value can give it away. */
const neutralKey = fc.constantFrom("DATABASE_URL", "REDIS_URL", "WEBHOOK_URL", "SENTRY_DSN", "APP_CONFIG", "PG_CONN", "FEED", "UPSTREAM", "SIGNING", "CONNECTION");
const host = fc.constantFrom("db.internal", "cache.example.com:6379", "10.0.0.7:5432", "api.example.com");
const scheme = fc.constantFrom("postgres", "postgresql", "redis", "rediss", "mysql2", "amqp", "https", "mongodb+srv");
const secretParam = fc.constantFrom("token", "access_token", "api_key", "apikey", "password", "X-Amz-Signature", "X-Amz-Security-Token", "sig", "auth", "client_secret");
const privatePem = fc.constantFrom("RSA PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "OPENSSH PRIVATE KEY", "PGP PRIVATE KEY BLOCK", "DSA PRIVATE KEY");

/** Ways to write one `KEY=value` line holding the plaintext `s` (functions, so `s` is drawn once). */
const leakingLine: fc.Arbitrary<(s: string) => string> = fc.oneof(
  secretKey.map((k) => (s: string) => `${k}=${s}`),
  fc.tuple(secretKey, kmsToken, fc.constantFrom("", " ", "-", ":")).map(([k, t, sep]) => (s: string) => `${k}=${s}${sep}${t}`),
  fc.tuple(secretKey, kmsToken, fc.constantFrom(" ", ";", "|", ",")).map(([k, t, sep]) => (s: string) => `${k}=${t}${sep}${s}`),
  fc.tuple(neutralKey, scheme, fc.constantFrom("app", "u", "blinker_app", "admin2"), host).map(([k, sc, user, h]) => (s: string) => `${k}=${sc}://${user}:${s}@${h}/app`),
  fc.tuple(neutralKey, scheme, host).map(([k, sc, h]) => (s: string) => `${k}=${sc}://:${s}@${h}/0`),
  fc.tuple(neutralKey, host, secretParam, fc.boolean()).map(([k, h, p, first]) => (s: string) => `${k}=https://${h}/hook${first ? "?" : "?page=2&"}${p}=${s}`),
  fc.tuple(neutralKey, fc.constantFrom("password", "Password", "PWD", "pass")).map(([k, p]) => (s: string) => `${k}=host=db user=app ${p}=${s} dbname=app`),
  fc.tuple(neutralKey, privatePem).map(([k, label]) => (s: string) => `${k}=-----BEGIN ${label}-----\\n${s}\\n-----END ${label}-----`),
);

describe("check-env (property)", () => {
  it("no plaintext secret shape passes, and no problem quotes the secret", () => {
    const benign = example("prod").split("\n");
    fc.assert(
      fc.property(
        secret,
        leakingLine,
        fc.nat({ max: benign.length }),
        (s, write, at) => {
          const line = write(s);
          const lines = [...benign.slice(0, at), line, ...benign.slice(at)];
          // The injected key must not repeat one of the file's (a duplicate is another problem).
          const key = line.slice(0, line.indexOf("="));
          fc.pre(!benign.some((l) => l.startsWith(`${key}=`)));
          const problems = checkEnvText(lines.join("\n"), "config/prod.env", OPTIONS);
          expect(problems.map((p) => p.path)).toContain(`config/prod.env:${at + 1}`);
          expect(JSON.stringify(problems)).not.toContain(s);
        },
      ),
      propertyParameters(),
    );
  });

  const settingKey = fc.constantFrom("RAILS_ENV", "RAILS_MAX_THREADS", "SIDEKIQ_CONCURRENCY", "RATE_LIMIT_PER_MINUTE", "FEATURE_FLAG", "LOG_LEVEL", "TIMEZONE", "AUTH_MODE", "AWS_ACCESS_KEY_ID", "KMS_KEY_ARN", "TOKEN_TTL", "PASSWORD_MIN_LENGTH", "STRIPE_PUBLISHABLE_KEY", "CACHE_BYPASS");
  const settingValue = fc.oneof(
    fc.integer({ min: 0, max: 100000 }).map(String),
    fc.constantFrom("true", "false", "production", "info", "UTC", "oidc", "AKIAIOSFODNN7EXAMPLE", "pk_live_51H8x", "alias/prod-env"),
    fc.tuple(fc.constantFrom("https", "redis", "postgres"), host, fc.constantFrom("", "/v2", "/0", "/s?sort=key&page=2", "/cb?mail=a@b.example")).map(([sc, h, p]) => `${sc}://${h}${p}`),
    fc.constantFrom("ssh://git@github.com/org/repo.git", "-----BEGIN CERTIFICATE-----"),
  );
  const benignLine = fc.oneof(
    fc.tuple(settingKey, settingValue).map(([k, v]) => `${k}=${v}`),
    fc.tuple(secretKey, kmsToken).map(([k, t]) => `${k}=${t}`),
    fc.tuple(neutralKey, scheme, host, kmsToken).map(([k, sc, h, t]) => `${k}=${sc}://app:${t}@${h}/app`),
    fc.tuple(neutralKey, host, secretParam, kmsToken).map(([k, h, p, t]) => `${k}=https://${h}/hook?${p}=${t}`),
  );

  it.each(["stage", "prod"])("no false alarm on the example app's %s.env, shuffled, with fresh tokens and more lines of its kinds", (env) => {
    const lines = example(env).split("\n").filter((l) => l !== "");
    fc.assert(
      fc.property(
        fc.shuffledSubarray(lines, { minLength: lines.length, maxLength: lines.length }),
        fc.array(kmsToken, { minLength: lines.length, maxLength: lines.length }),
        fc.uniqueArray(benignLine, { maxLength: 6, selector: (l) => l.slice(0, l.indexOf("=")) }),
        (shuffled, tokens, extra) => {
          const fresh = shuffled.map((l, i) => l.replace(/kmscrypt::[A-Za-z0-9+/=]+/, tokens[i]!));
          const keys = new Set(fresh.filter((l) => !l.startsWith("#")).map((l) => l.slice(0, l.indexOf("="))));
          const added = extra.filter((l) => !keys.has(l.slice(0, l.indexOf("="))));
          const text = [...fresh, ...added].join("\n") + "\n";
          expect(checkEnvText(text, `config/${env}.env`, { ...OPTIONS, environment: env })).toEqual([]);
        },
      ),
      propertyParameters(),
    );
  });
});
