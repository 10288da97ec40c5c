import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../../modules/pipeline/src/lib/config.js";
import { ProblemsError } from "../../modules/pipeline/src/lib/errors.js";
import { scanEnvFile } from "../../modules/pipeline/src/lib/env-file.js";
import { assertEnvCheckPassed, checkEnvFile, checkEnvText, looksSecret } from "../../modules/pipeline/src/lib/env-check.js";

const PATTERNS = DEFAULT_CONFIG.secrets.secretKeyPatterns;
const LONG_TOKEN = Buffer.from(Uint8Array.from({ length: 60 }, (_, i) => (i < 5 ? [1, 2, 2, 0, 0x78][i]! : i))).toString("base64");
const TOKEN = Buffer.from([1, 2, 2, 0, 0x78, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).toString("base64");

describe("looksSecret (default patterns)", () => {
  it.each([
    // whole words
    { key: "PASSWORD", secret: true },
    { key: "GRAVITY_API_PASSWORD", secret: true },
    { key: "API_KEY", secret: true },
    { key: "GITHUB_TOKEN", secret: true },
    { key: "SECRET_KEY_BASE", secret: true },
    { key: "STRIPE_SECRET_KEY", secret: true },
    { key: "AWS_SECRET_ACCESS_KEY", secret: true },
    { key: "RSA_PRIVATE_KEY", secret: true },
    { key: "GITHUB_TOKEN_RW", secret: true },
    { key: "ID_TOKEN", secret: true },
    // plurals
    { key: "GOOGLE_CREDENTIALS", secret: true },
    { key: "API_KEYS", secret: true },
    // glued suffixes
    { key: "APIKEY", secret: true },
    { key: "DBPASSWORD", secret: true },
    { key: "authToken", secret: true },
    { key: "sendgrid_apikeys", secret: true },
    { key: "MONKEY_PATCH", secret: true }, // the accepted false alarm: allow-list it
    { key: "MONKEY_MODE", secret: false }, // MODE describes a setting
    // names the first six patterns missed (issue #11 item 6)
    { key: "DB_PASS", secret: true },
    { key: "PASSWD", secret: true },
    { key: "SMTP_PASSWD", secret: true },
    { key: "GPG_PASSPHRASE", secret: true },
    { key: "AUTH", secret: true },
    { key: "BASIC_AUTH", secret: true },
    { key: "BEARER", secret: true },
    { key: "SLACK_BEARER", secret: true },
    { key: "PASSWORD_SALT", secret: true },
    { key: "DEVISE_SALT", secret: true },
    { key: "DB_PWD", secret: true },
    { key: "DBPASS", secret: true },
    { key: "AUTH_MODE", secret: false },
    { key: "OAUTH_PROVIDER", secret: false },
    { key: "CACHE_BYPASS", secret: false },
    { key: "COMPASS_HEADING", secret: false },
    { key: "PASSENGER_MAX_POOL_SIZE", secret: false },
    // prefixes are not matches
    { key: "KEYBOARD_LAYOUT", secret: false },
    { key: "TOKENIZER_MODE", secret: false },
    { key: "SECRETARY_EMAIL", secret: false },
    { key: "PASSWORDLESS_LOGIN", secret: false },
    { key: "PRIVATEER", secret: false },
    // unrelated
    { key: "RAILS_ENV", secret: false },
    { key: "DATABASE_URL", secret: false },
    { key: "REDIS_HOST", secret: false },
    { key: "KEYS", secret: true },
    // data about a secret, not the secret
    { key: "AWS_ACCESS_KEY_ID", secret: false },
    { key: "KMS_KEY_ARN", secret: false },
    { key: "KEY_ID", secret: false },
    { key: "TOKEN_TTL", secret: false },
    { key: "PASSWORD_MIN_LENGTH", secret: false },
    { key: "PRIVATE_KEY_PATH", secret: false },
    { key: "JWT_TOKEN_EXPIRY", secret: false },
    { key: "SECRET_KEY_BASE_ENABLED", secret: false },
    // public keys
    { key: "STRIPE_PUBLISHABLE_KEY", secret: false },
    { key: "PUBLIC_KEY", secret: false },
    { key: "PUBLIC_KEY_SECRET", secret: true },
  ])("$key -> $secret", ({ key, secret }) => {
    expect(looksSecret(key, PATTERNS)).toBe(secret);
  });

  it.each([
    { name: "multi-word pattern matches consecutive words", key: "SENDGRID_API_KEY", patterns: ["API_KEY"], secret: true },
    { name: "multi-word pattern, plural last word", key: "API_KEYS", patterns: ["API_KEY"], secret: true },
    { name: "multi-word pattern needs both words", key: "API_VERSION_KEY", patterns: ["API_KEY"], secret: false },
    { name: "lowercase pattern", key: "DB_PASSWD", patterns: ["passwd"], secret: true },
    { name: "no patterns", key: "PASSWORD", patterns: [], secret: false },
  ])("$name", ({ key, patterns, secret }) => {
    expect(looksSecret(key, patterns)).toBe(secret);
  });
});

describe("checkEnvFile", () => {
  const options = (environment: string, allowList: string[] = []) => ({ environment, patterns: PATTERNS, allowList });

  it.each([
    { name: "prod plaintext secret", env: "prod", text: "API_KEY=abc123\n", codes: ["ENV_FILE_PLAINTEXT_SECRET"], paths: ["config/x.env:1"] },
    { name: "stage plaintext secret", env: "stage", text: "A=1\nDB_PASSWORD=pw\n", codes: ["ENV_FILE_PLAINTEXT_SECRET"], paths: ["config/x.env:2"] },
    { name: "dev plaintext is fine", env: "dev", text: "API_KEY=test-key\n", codes: [], paths: [] },
    { name: "encrypted secret is fine", env: "prod", text: `API_KEY=kmscrypt::${TOKEN}\n`, codes: [], paths: [] },
    { name: "token inside a URL is fine", env: "prod", text: `DB_PASSWORD=postgres://u:kmscrypt::${TOKEN}@h/db\n`, codes: [], paths: [] },
    { name: "empty value ignored", env: "prod", text: "API_KEY=\nSECRET=''\nTOKEN=\"\"\n", codes: [], paths: [] },
    { name: "allow-listed key", env: "prod", text: "PUBLIC_TOKEN_URL=x\nRECAPTCHA_SITE_KEY=6Lc\n", allow: ["RECAPTCHA_SITE_KEY"], codes: [], paths: [] },
    { name: "allow-list is exact", env: "prod", text: "RECAPTCHA_SITE_KEY=6Lc\n", allow: ["recaptcha_site_key"], codes: ["ENV_FILE_PLAINTEXT_SECRET"], paths: ["config/x.env:1"] },
    { name: "non-secret keys", env: "prod", text: "RAILS_ENV=production\nAWS_ACCESS_KEY_ID=AKIA\n", codes: [], paths: [] },
    { name: "invalid token in dev", env: "dev", text: "X=kmscrypt::bad!\n", codes: ["ENV_FILE_INVALID"], paths: ["config/x.env:1"] },
    { name: "invalid token in prod is not also plaintext", env: "prod", text: "API_KEY=kmscrypt::AQICAH\n", codes: ["ENV_FILE_INVALID"], paths: ["config/x.env:1"] },
    { name: "ciphertext without the prefix, prod", env: "prod", text: `API_KEY=${LONG_TOKEN}\n`, codes: ["ENV_FILE_INVALID"], paths: ["config/x.env:1"] },
    { name: "ciphertext without the prefix, dev", env: "dev", text: `X=1\nNOTE=${LONG_TOKEN}\n`, codes: ["ENV_FILE_INVALID"], paths: ["config/x.env:2"] },
    { name: "short AQICAH-like value is left alone", env: "prod", text: "MODE=AQICAHxx\n", codes: [], paths: [] },
    {
      name: "several problems, line order",
      env: "prod",
      text: `X=kmscrypt::${TOKEN.slice(1)}\nOK=1\nSECRET_KEY_BASE=deadbeef\n`,
      codes: ["ENV_FILE_INVALID", "ENV_FILE_PLAINTEXT_SECRET"],
      paths: ["config/x.env:1", "config/x.env:3"],
    },
  ])("$name", ({ env, text, allow, codes, paths }) => {
    const { file } = scanEnvFile(text, "config/x.env");
    const problems = checkEnvFile(file, options(env, allow));
    expect(problems.map((p) => p.code)).toEqual(codes);
    expect(problems.map((p) => p.path)).toEqual(paths);
  });

  // Issue #11 item 6: each of these passed check-env in prod before.
  const PW = "Hunter2-plaintext";
  it.each([
    { name: "text before a token", text: `API_KEY=${PW}kmscrypt::${TOKEN}\n`, fragment: "API_KEY looks secret but keeps 17 plaintext characters beside its kmscrypt:: token" },
    { name: "text after a token", text: `API_KEY=kmscrypt::${TOKEN} ${PW}\n`, fragment: "keeps 17 plaintext characters beside its kmscrypt:: token" },
    { name: "postgres URL with a password", text: `DATABASE_URL=postgres://app:${PW}@db.internal/app\n`, fragment: "DATABASE_URL holds a URL with a plaintext password (postgres://<user>:<password>@..., at character 1)" },
    { name: "redis URL with only a password", text: `REDIS_URL=redis://:${PW}@cache:6379/0\n`, fragment: "REDIS_URL holds a URL with a plaintext password (redis://" },
    { name: "password with a slash", text: `DATABASE_URL=postgres://app:ab/${PW}@db/app\n`, fragment: "a URL with a plaintext password" },
    { name: "URL with ?token=", text: `WEBHOOK_URL=https://hooks.example.com/x?token=${PW}\n`, fragment: "WEBHOOK_URL holds a secret-looking name=value pair with a plaintext value (at character 29)" },
    { name: "URL with &access_token=", text: `FEED=https://api.example.com/f?page=2&access_token=${PW}\n`, fragment: "a secret-looking name=value pair" },
    { name: "presigned S3 URL", text: `REPORT_URL=https://b.s3.amazonaws.com/k?X-Amz-Signature=${PW}\n`, fragment: "a secret-looking name=value pair" },
    { name: "keyword DSN with a password", text: `PG_CONN=host=db user=app password=${PW} dbname=app\n`, fragment: "a secret-looking name=value pair" },
    { name: "ADO-style connection string", text: `MSSQL=Server=db;Database=app;Pwd=${PW};\n`, fragment: "a secret-looking name=value pair" },
    { name: "Sentry DSN with a key", text: "SENTRY_DSN=https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/1\n", fragment: "SENTRY_DSN holds a URL whose user name is a key or token (as in a DSN" },
    { name: "DB_PASS", text: `DB_PASS=${PW}\n`, fragment: "DB_PASS looks secret but holds a plaintext value" },
    { name: "PASSWD", text: `PASSWD=${PW}\n`, fragment: "PASSWD looks secret" },
    { name: "PASSPHRASE", text: `GPG_PASSPHRASE=${PW}\n`, fragment: "GPG_PASSPHRASE looks secret" },
    { name: "AUTH", text: `AUTH=${PW}\n`, fragment: "AUTH looks secret" },
    { name: "BEARER", text: `BEARER=${PW}\n`, fragment: "BEARER looks secret" },
    { name: "*_SALT", text: `DEVISE_SALT=${PW}\n`, fragment: "DEVISE_SALT looks secret" },
    { name: "PEM under an innocent name", text: "SIGNING=-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA\\n-----END RSA PRIVATE KEY-----\n", fragment: "SIGNING holds a PEM block (BEGIN RSA PRIVATE KEY)" },
    { name: "PEM first line only", text: "APP_CERT_CHAIN=-----BEGIN OPENSSH PRIVATE KEY-----\n", fragment: "holds a PEM block (BEGIN OPENSSH PRIVATE KEY)" },
  ])("catches $name, without echoing the value", ({ text, fragment }) => {
    const problems = checkEnvText(text, "config/prod.env", options("prod"));
    expect(problems.map((p) => [p.path, p.code])).toEqual([["config/prod.env:1", "ENV_FILE_PLAINTEXT_SECRET"]]);
    expect(problems[0]!.message).toContain(fragment);
    const shown = JSON.stringify(problems);
    for (const part of [PW, "0123456789abcdef", "MIIEpAIBAAKCAQEA"]) expect(shown).not.toContain(part);
  });

  it.each([
    { name: "token as the URL password", text: `DATABASE_URL=postgres://app:kmscrypt::${TOKEN}@db/app\n` },
    { name: "token as a query value", text: `WEBHOOK_URL=https://hooks.example.com/x?token=kmscrypt::${TOKEN}\n` },
    { name: "token as a DSN password", text: `PG_CONN=host=db user=app password=kmscrypt::${TOKEN}\n` },
    { name: "URL with a port and an @ in the query", text: "CALLBACK_URL=https://app.example.com:8443/cb?mail=a@b.example\n" },
    { name: "URL with a user name only", text: "GIT_URL=ssh://git@github.com/org/repo.git\n" },
    { name: "non-secret query parameters", text: "SEARCH_URL=https://x.example.com/s?sort=key&page=2\n" },
    { name: "a certificate", text: "CA_BUNDLE=-----BEGIN CERTIFICATE-----\n" },
    { name: "a trailing space after a token", text: `API_KEY=kmscrypt::${TOKEN} \n` },
    { name: "plain settings", text: "RAILS_ENV=production\nREDIS_URL=redis://cache:6379/0\nAUTH_MODE=oidc\n" },
  ])("does not flag $name", ({ text }) => {
    expect(checkEnvText(text, "config/prod.env", options("prod"))).toEqual([]);
  });

  it("the allow-list also exempts a value shape", () => {
    const text = "DATABASE_URL=postgres://app:not-secret@db/app\n";
    expect(checkEnvText(text, "config/prod.env", options("prod", ["DATABASE_URL"]))).toEqual([]);
    expect(checkEnvText(text, "config/dev.env", options("dev"))).toEqual([]);
  });

  it.each(["dev", "stage", "prod"])("the example app's %s.env passes", async (env) => {
    const { readFile } = await import("node:fs/promises");
    const text = await readFile(new URL(`../fixtures/rails-api/config/${env}.env`, import.meta.url), "utf8");
    expect(checkEnvText(text, `config/${env}.env`, options(env))).toEqual([]);
  });

  it("names the key and gives the encrypt-value fix, without the value", () => {
    const { file } = scanEnvFile("# c\nGRAVITY_API_PASSWORD=MySecretPassword123\n", "config/prod.env");
    const [problem] = checkEnvFile(file, options("prod"));
    expect(problem!.path).toBe("config/prod.env:2");
    expect(problem!.message).toContain("GRAVITY_API_PASSWORD looks secret but holds a plaintext value");
    expect(problem!.hint).toContain("dagger call encrypt-value --env prod --value env:GRAVITY_API_PASSWORD");
    expect(problem!.hint).toContain("secrets.plaintextAllowList");
    expect(JSON.stringify(problem)).not.toContain("MySecretPassword123");
  });

  it("explains a ciphertext pasted without its prefix", () => {
    const { file } = scanEnvFile(`API_KEY=${LONG_TOKEN}\n`, "config/prod.env");
    const [problem] = checkEnvFile(file, options("prod"));
    expect(problem!.message).toBe("API_KEY holds what looks like a KMS ciphertext without the kmscrypt:: prefix");
    expect(problem!.hint).toBe("write API_KEY=kmscrypt::<the ciphertext>");
  });

  it("honours a custom list of encrypted environments", () => {
    const { file } = scanEnvFile("API_KEY=x\n", "config/dev.env");
    expect(checkEnvFile(file, { ...options("dev"), encryptedEnvironments: ["dev"] })).toHaveLength(1);
  });
});

describe("checkEnvText / assertEnvCheckPassed", () => {
  const opts = { environment: "prod", patterns: PATTERNS, allowList: [] };

  it("passes a clean file", () => {
    const problems = checkEnvText(`RAILS_ENV=production\nAPI_KEY=kmscrypt::${TOKEN}\n`, "config/prod.env", opts);
    expect(problems).toEqual([]);
    expect(() => assertEnvCheckPassed(problems, "config/prod.env")).not.toThrow();
  });

  it("plaintext only -> ENV_FILE_PLAINTEXT_SECRET with every problem", () => {
    const problems = checkEnvText("API_KEY=v1-hidden\nDB_PASSWORD=v2-hidden\n", "config/prod.env", opts);
    try {
      assertEnvCheckPassed(problems, "config/prod.env");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProblemsError);
      expect((err as ProblemsError).code).toBe("ENV_FILE_PLAINTEXT_SECRET");
      expect((err as Error).message).toContain("config/prod.env failed check-env: 2 problems");
      expect((err as Error).message).toContain("config/prod.env:1: API_KEY");
      expect((err as Error).message).toContain("config/prod.env:2: DB_PASSWORD");
      expect((err as Error).message).not.toContain("hidden");
    }
  });

  it("a syntax problem makes it ENV_FILE_INVALID and comes with the others", () => {
    const problems = checkEnvText("API_KEY=v1\nbroken line\nA=1\nA=2\n", "config/prod.env", opts);
    expect(problems.map((p) => [p.path, p.code])).toEqual([
      ["config/prod.env:1", "ENV_FILE_PLAINTEXT_SECRET"],
      ["config/prod.env:2", "ENV_FILE_INVALID"],
      ["config/prod.env:4", "ENV_FILE_INVALID"],
    ]);
    expect(() => assertEnvCheckPassed(problems, "config/prod.env")).toThrow(/\[ENV_FILE_INVALID\] config\/prod.env failed check-env: 3 problems/);
  });
});
