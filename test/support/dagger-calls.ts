/**
 * Every `dagger call` in a CI config, parsed the way a shell and `dagger call` would read it, and
 * checked against the module's real CLI surface (test/support/introspect.ts).
 *
 * - `extractScripts` finds the shell scripts of a YAML file: every `run:` value (GitHub Actions
 *   steps, CircleCI's `- run: <cmd>` shorthand) and every `command:` value (CircleCI's
 *   `run: { command }`), with the file line each script line sits on. Markdown fenced sh/bash blocks
 *   are read by `extractMarkdownScripts`.
 * - `findDaggerCalls` lexes a script like a POSIX shell (quotes, `\`-newline continuations,
 *   comments, `$VAR`/`${VAR}`/`$(...)`, `;`/`&&`/`||`/`|`, redirections, heredocs, leading
 *   `VAR=x`/`if`/`then`/...) and keeps each command whose program is `dagger` and that has a `call`
 *   verb. Calls inside `$(...)` are found too. CI expressions (`<< pipeline.parameters.x >>`,
 *   `${{ github.ref }}`) count as dynamic values.
 * - `checkDaggerCall` walks the call's chain: functions and fields of the module's objects come from
 *   the introspection; Dagger core types (Directory, File, Container, Service, Secret) from a small
 *   explicit allow-list. It reports unknown functions and flags, missing required flags, values
 *   that cannot be of the flag's type (an enum value that is no member NAME, which the CLI matches
 *   case-insensitively: cmd/dagger/flags.go), and any secret given as a plain value instead of
 *   `env:`/`file:`.
 * - In the workspace form (`{ workspace: true }`: an application repository set up with `dagger
 *   init --blueprint`, where the module's functions are the top level) it also reports a `-m`
 *   (the project already names its module) and a `--source .` or `--checkout .` (the defaults are
 *   the project itself): the calls must be the mission's commands as typed.
 */
import { isMap, isScalar, LineCounter, parseDocument, Scalar, visit } from "yaml";
import { flagName, functionName, type IntrospectedModule } from "./introspect.js";

// --- extraction --------------------------------------------------------------------------------

/** A shell script found in a file: `lines[k]` sits on file line `lineOf(k)`. */
export interface Script {
  file: string;
  /** 1-based file line of the script's first line. */
  line: number;
  text: string;
  /** true when every script line is its own file line (block literal, markdown); false: all on `line`. */
  lineByLine: boolean;
}

export interface ShellWord {
  /** The text as written (quotes included). */
  raw: string;
  /** Quotes removed; `$VAR`, `${...}`, `$(...)` kept as written. */
  value: string;
  /** The value depends on the environment (variables, command substitution, CI expressions). */
  dynamic: boolean;
  /** 0-based line within the script. */
  line: number;
  /** Bodies of `$(...)` / backticks inside the word: scanned for nested dagger calls. */
  substitutions: string[];
}

export interface DaggerCall {
  file: string;
  /** 1-based line in the file where the command starts. */
  line: number;
  /** The command as one line (continuations joined). */
  text: string;
  /** Words between `dagger` and `call` (global flags such as `-m <module>`). */
  globalArgs: ShellWord[];
  /** Words after `call`: the chain of functions and their flags. */
  args: ShellWord[];
}

/** The shell scripts of a YAML document: values of `run:` and `command:` keys. */
export function extractScripts(yamlText: string, file: string): Script[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, merge: true });
  if (doc.errors.length) throw new Error(`${file}: YAML error: ${doc.errors[0]!.message}`);
  const scripts: Script[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (!isScalar(pair.key) || !["run", "command"].includes(String(pair.key.value))) return;
      const value = pair.value;
      if (!isScalar(value) || typeof value.value !== "string" || !value.range) return;
      const at = lineCounter.linePos(value.range[0]).line;
      const block = value.type === Scalar.BLOCK_LITERAL;
      scripts.push({ file, line: block ? at + 1 : at, text: value.value, lineByLine: block });
    },
  });
  return scripts;
}

/** Fenced ```sh / ```bash / ```shell / ```console / ``` blocks of a markdown file. */
export function extractMarkdownScripts(markdown: string, file: string): Script[] {
  const lines = markdown.split("\n");
  const scripts: Script[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*```\s*(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^\s*```\s*$/.test(l));
    const stop = end === -1 ? lines.length : end;
    if (["", "sh", "bash", "shell", "console"].includes(open[1]!)) {
      const body = lines.slice(i + 1, stop).map((l) => (open[1] === "console" ? l.replace(/^\s*\$ /, "") : l));
      scripts.push({ file, line: i + 2, text: body.join("\n"), lineByLine: true });
    }
    i = stop;
  }
  return scripts;
}

/** Every `dagger ... call ...` command of a YAML file. */
export function extractDaggerCalls(yamlText: string, file: string): DaggerCall[] {
  return extractScripts(yamlText, file).flatMap(findDaggerCalls);
}

// --- a small POSIX shell lexer -----------------------------------------------------------------

type Token = { kind: "word"; word: ShellWord } | { kind: "op"; op: string; line: number } | { kind: "redirect"; op: string; line: number; complete: boolean };

/** CI template expressions become a dynamic `${...}` so the lexer never sees `<<` or `{{`. */
function neutraliseCiExpressions(text: string): string {
  return text.replace(/<<\s*[\w.-]+\s*>>/g, "${CI_PARAMETER}").replace(/\$\{\{[^}\n]*\}\}/g, "${CI_EXPRESSION}");
}

/** Index just past the `)` closing a `$(` that starts at `start` (pointing at `(`). */
function skipParens(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "'") i = text.indexOf("'", i + 1) === -1 ? text.length : text.indexOf("'", i + 1);
    else if (c === '"') i = skipDoubleQuoted(text, i + 1) - 1;
    else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i + 1;
  }
  return text.length;
}

/** Index just past the closing `"` of a double-quoted string whose body starts at `start`. */
function skipDoubleQuoted(text: string, start: number): number {
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === '"') return i + 1;
    else if (c === "$" && text[i + 1] === "(") i = skipParens(text, i + 1) - 1;
  }
  return text.length;
}

export function lexShell(input: string): Token[] {
  const text = neutraliseCiExpressions(input);
  const tokens: Token[] = [];
  let line = 0;
  let word: ShellWord | undefined;
  const pendingHeredocs: Array<{ delimiter: string; stripTabs: boolean }> = [];
  const start = () => (word ??= { raw: "", value: "", dynamic: false, line, substitutions: [] });
  const flush = () => {
    if (word) tokens.push({ kind: "word", word });
    word = undefined;
  };
  const op = (o: string) => {
    flush();
    tokens.push({ kind: "op", op: o, line });
  };
  /** `$...` at i: append to the current word, return the index after it. */
  const dollar = (i: number, w: ShellWord): number => {
    const next = text[i + 1];
    let end: number;
    if (next === "(") {
      end = skipParens(text, i + 1);
      w.substitutions.push(text.slice(i + 2, end - 1));
    } else if (next === "{") end = text.indexOf("}", i) === -1 ? text.length : text.indexOf("}", i) + 1;
    else if (next !== undefined && /[A-Za-z_]/.test(next)) end = i + 1 + /^[A-Za-z_]\w*/.exec(text.slice(i + 1))![0].length;
    else if (next !== undefined && /[0-9@*#?$!-]/.test(next)) end = i + 2;
    else {
      w.raw += "$";
      w.value += "$";
      return i + 1;
    }
    const part = text.slice(i, end);
    line += (part.match(/\n/g) ?? []).length;
    w.raw += part;
    w.value += part;
    w.dynamic = true;
    return end;
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\\" && text[i + 1] === "\n") {
      i += 2;
      line++;
      continue;
    }
    if (c === "\n") {
      op("\n");
      line++;
      i++;
      // Heredoc bodies start on the next line: skip them up to their delimiter line.
      while (pendingHeredocs.length) {
        const { delimiter, stripTabs } = pendingHeredocs.shift()!;
        while (i < text.length) {
          const eol = text.indexOf("\n", i) === -1 ? text.length : text.indexOf("\n", i);
          const body = text.slice(i, eol);
          i = eol + 1;
          line++;
          if ((stripTabs ? body.replace(/^\t+/, "") : body) === delimiter) break;
        }
      }
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      flush();
      i++;
      continue;
    }
    if (c === "#" && !word) {
      while (i < text.length && text[i] !== "\n") i++;
      continue;
    }
    if (c === "<" && text[i + 1] === "<" && text[i + 2] !== "<" && (!word || /^\d+$/.test(word.raw))) {
      word = undefined;
      const m = /^<<(-?)\s*(['"]?)([\w.-]+)\2/.exec(text.slice(i));
      if (m) {
        pendingHeredocs.push({ delimiter: m[3]!, stripTabs: m[1] === "-" });
        i += m[0].length;
        continue;
      }
    }
    if ((c === ">" || c === "<" || (c === "&" && text[i + 1] === ">")) && (!word || /^\d+$/.test(word.raw))) {
      word = undefined;
      const m = /^(&>>?|[<>]&\d*-?|>>|>\||<>|<<<|[<>])/.exec(text.slice(i))!;
      const complete = /&\d+-?$|&-$/.test(m[0]);
      tokens.push({ kind: "redirect", op: m[0], line, complete });
      i += m[0].length;
      continue;
    }
    if (c === ";" || c === "&" || c === "|" || c === "(" || c === ")") {
      const two = text.slice(i, i + 2);
      if (["&&", "||", ";;"].includes(two)) {
        op(two);
        i += 2;
      } else {
        op(c);
        i++;
      }
      continue;
    }
    const w = start();
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      const stop = end === -1 ? text.length : end;
      w.raw += text.slice(i, stop + 1);
      w.value += text.slice(i + 1, stop);
      line += (text.slice(i, stop).match(/\n/g) ?? []).length;
      i = stop + 1;
    } else if (c === '"') {
      w.raw += '"';
      i++;
      while (i < text.length && text[i] !== '"') {
        const d = text[i]!;
        if (d === "\\" && i + 1 < text.length) {
          const e = text[i + 1]!;
          if (e === "\n") line++;
          else if ('"\\$`'.includes(e)) w.value += e;
          else w.value += d + e;
          w.raw += d + e;
          i += 2;
        } else if (d === "$") i = dollar(i, w);
        else if (d === "`") {
          const end = text.indexOf("`", i + 1) === -1 ? text.length : text.indexOf("`", i + 1);
          w.substitutions.push(text.slice(i + 1, end));
          w.raw += text.slice(i, end + 1);
          w.value += text.slice(i, end + 1);
          w.dynamic = true;
          i = end + 1;
        } else {
          if (d === "\n") line++;
          w.raw += d;
          w.value += d;
          i++;
        }
      }
      w.raw += '"';
      i++;
    } else if (c === "$") {
      if (text[i + 1] === "'") {
        const end = text.indexOf("'", i + 2) === -1 ? text.length : text.indexOf("'", i + 2);
        w.raw += text.slice(i, end + 1);
        w.value += text.slice(i + 2, end);
        i = end + 1;
      } else i = dollar(i, w);
    } else if (c === "`") {
      const end = text.indexOf("`", i + 1) === -1 ? text.length : text.indexOf("`", i + 1);
      w.substitutions.push(text.slice(i + 1, end));
      line += (text.slice(i, end).match(/\n/g) ?? []).length;
      w.raw += text.slice(i, end + 1);
      w.value += text.slice(i, end + 1);
      w.dynamic = true;
      i = end + 1;
    } else if (c === "\\") {
      w.raw += text.slice(i, i + 2);
      w.value += text[i + 1] ?? "";
      i += 2;
    } else {
      w.raw += c;
      w.value += c;
      i++;
    }
  }
  flush();
  return tokens;
}

/** Words that may precede the program of a command without being it. */
const PREFIX_KEYWORDS = new Set(["if", "then", "else", "elif", "do", "while", "until", "!", "{", "}", "time", "exec", "command", "env", "nohup"]);

/** dagger's global flags (before `call`) and whether each takes a value. */
export const DAGGER_GLOBAL_FLAGS: Record<string, boolean> = {
  "-m": true,
  "--mod": true,
  "--progress": true,
  "--interactive-command": true,
  "-q": false,
  "--quiet": false,
  "-s": false,
  "--silent": false,
  "-v": false,
  "-vv": false,
  "-vvv": false,
  "--verbose": false,
  "-d": false,
  "--debug": false,
  "-i": false,
  "--interactive": false,
  "-M": false,
  "--no-mod": false,
};

/** The dagger calls of one script (and of `$(...)` inside it). */
export function findDaggerCalls(script: Script): DaggerCall[] {
  const tokens = lexShell(script.text);
  const calls: DaggerCall[] = [];
  const fileLine = (k: number) => (script.lineByLine ? script.line + k : script.line);
  let command: Token[] = [];
  const finish = () => {
    const words: ShellWord[] = [];
    for (let k = 0; k < command.length; k++) {
      const t = command[k]!;
      if (t.kind === "redirect") {
        if (!t.complete) k++; // its target word
      } else if (t.kind === "word") words.push(t.word);
    }
    command = [];
    for (const w of words) {
      for (const sub of w.substitutions) {
        for (const nested of findDaggerCalls({ file: script.file, line: fileLine(w.line), text: sub, lineByLine: false })) calls.push(nested);
      }
    }
    let p = 0;
    while (p < words.length && (PREFIX_KEYWORDS.has(words[p]!.raw) || /^[A-Za-z_]\w*=/.test(words[p]!.raw))) p++;
    const program = words[p];
    if (!program || !/(^|\/)dagger$/.test(program.value)) return;
    let q = p + 1;
    while (q < words.length && words[q]!.value !== "call") {
      const flag = words[q]!.value;
      q += DAGGER_GLOBAL_FLAGS[flag] === true ? 2 : 1;
    }
    if (q >= words.length) return; // dagger version, dagger functions, ...: not a call
    const all = words.slice(p);
    calls.push({
      file: script.file,
      line: fileLine(program.line),
      text: all.map((w) => w.raw).join(" "),
      globalArgs: words.slice(p + 1, q),
      args: words.slice(q + 1),
    });
  };
  for (const t of tokens) {
    if (t.kind === "op") finish();
    else command.push(t);
  }
  finish();
  return calls;
}

// --- the module's surface ----------------------------------------------------------------------

export type ValueKind = "string" | "integer" | "boolean" | "float" | "list" | "object";

export interface FlagSurface {
  flag: string;
  kind: ValueKind;
  /** OBJECT_KIND type name (Secret, File, Directory, Container, ...). */
  typeName?: string;
  required: boolean;
  /** For an enum flag: its member names, the values the CLI accepts. */
  choices?: string[];
}

export interface FunctionSurface {
  name: string;
  flags: Map<string, FlagSurface>;
  /** The object type name the function returns, or undefined for a scalar (string, number, void). */
  returns?: string;
  returnKind: string;
}

export type Surface = Map<string, Map<string, FunctionSurface>>;

function kindOf(type: { kind: string; typeDef?: { kind: string } }): ValueKind {
  switch (type.kind) {
    case "STRING_KIND":
    case "ENUM_KIND":
      return "string";
    case "INTEGER_KIND":
      return "integer";
    case "FLOAT_KIND":
      return "float";
    case "BOOLEAN_KIND":
      return "boolean";
    case "LIST_KIND":
      return "list";
    default:
      return "object";
  }
}

const str = (required = false): FlagSurface => ({ flag: "", kind: "string", required });
const bool = (): FlagSurface => ({ flag: "", kind: "boolean", required: false });
const list = (): FlagSurface => ({ flag: "", kind: "list", required: false });

/**
 * Dagger core types a chain may reach from the module's functions, with the few functions and
 * flags the CI configs and docs use. Extend when a config needs another core call.
 */
const CORE_TYPES: Record<string, Record<string, { flags: Record<string, FlagSurface>; returns?: string; returnKind: string }>> = {
  Directory: {
    export: { flags: { "--path": str(true), "--wipe": bool() }, returnKind: "STRING_KIND" },
    entries: { flags: { "--path": str() }, returnKind: "LIST_KIND" },
    file: { flags: { "--path": str(true) }, returns: "File", returnKind: "OBJECT_KIND" },
    directory: { flags: { "--path": str(true) }, returns: "Directory", returnKind: "OBJECT_KIND" },
  },
  File: {
    export: { flags: { "--path": str(true), "--allow-parent-dir-path": bool() }, returnKind: "STRING_KIND" },
    contents: { flags: {}, returnKind: "STRING_KIND" },
    name: { flags: {}, returnKind: "STRING_KIND" },
  },
  Container: {
    publish: { flags: { "--address": str(true) }, returnKind: "STRING_KIND" },
    export: { flags: { "--path": str(true) }, returnKind: "STRING_KIND" },
    terminal: { flags: { "--cmd": list() }, returns: "Container", returnKind: "OBJECT_KIND" },
    stdout: { flags: {}, returnKind: "STRING_KIND" },
    up: { flags: { "--ports": list(), "--random": bool() }, returnKind: "VOID_KIND" },
  },
  Service: {
    up: { flags: { "--ports": list(), "--random": bool() }, returnKind: "VOID_KIND" },
    endpoint: { flags: { "--port": { flag: "", kind: "integer", required: false }, "--scheme": str() }, returnKind: "STRING_KIND" },
  },
  Secret: {
    plaintext: { flags: {}, returnKind: "STRING_KIND" },
    name: { flags: {}, returnKind: "STRING_KIND" },
  },
};

interface IntrospectedProperty {
  name: string;
  type: { kind: string; name?: string };
  isExposed?: boolean;
}

/** The CLI surface: module objects from the introspection, plus the core allow-list. */
export function moduleSurface(mod: IntrospectedModule): Surface {
  const surface: Surface = new Map();
  for (const [objName, obj] of Object.entries(mod.objects)) {
    const fns = new Map<string, FunctionSurface>();
    for (const [name, f] of Object.entries(obj.methods)) {
      const flags = new Map<string, FlagSurface>();
      for (const [argName, a] of Object.entries(f.arguments)) {
        const required = !a.isOptional && !a.isNullable && (a.defaultValue === undefined || a.defaultValue === null) && !a.defaultPath;
        const choices = a.type.kind === "ENUM_KIND" ? Object.keys(mod.enums?.[a.type.name ?? ""]?.values ?? {}) : undefined;
        flags.set(flagName(argName), { flag: flagName(argName), kind: kindOf(a.type), typeName: a.type.name, required, ...(choices ? { choices } : {}) });
      }
      fns.set(functionName(name), { name: functionName(name), flags, returns: f.returnType.kind === "OBJECT_KIND" ? f.returnType.name : undefined, returnKind: f.returnType.kind });
    }
    const properties = (obj as { properties?: Record<string, IntrospectedProperty> }).properties ?? {};
    for (const [name, p] of Object.entries(properties)) {
      if (p.isExposed === false) continue;
      fns.set(functionName(name), { name: functionName(name), flags: new Map(), returns: p.type.kind === "OBJECT_KIND" ? p.type.name : undefined, returnKind: p.type.kind });
    }
    surface.set(objName, fns);
  }
  for (const [typeName, fns] of Object.entries(CORE_TYPES)) {
    if (surface.has(typeName)) continue;
    surface.set(
      typeName,
      new Map(
        Object.entries(fns).map(([name, f]) => [
          name,
          { name, flags: new Map(Object.entries(f.flags).map(([flag, s]) => [flag, { ...s, flag }])), returns: f.returns, returnKind: f.returnKind },
        ]),
      ),
    );
  }
  return surface;
}

// --- checking a call ---------------------------------------------------------------------------

export interface ChainStep {
  object: string;
  fn: string;
  /** flag -> value as written without quotes ("true" for a bare boolean flag). */
  flags: Map<string, ShellWord>;
}

export interface CheckedCall {
  call: DaggerCall;
  steps: ChainStep[];
  problems: string[];
}

/** Words in a flag name that make it a credential: its value must be `env:NAME` or `file:PATH`. */
const SECRET_WORDS = new Set(["token", "password", "passwd", "passphrase", "key", "secret", "secrets", "credential", "credentials", "apikey"]);

export function looksSecret(flag: string): boolean {
  return flag
    .replace(/^-+/, "")
    .split(/[-_]/)
    .some((part) => SECRET_WORDS.has(part.toLowerCase()));
}

/** `env:NAME` or `file:PATH`: the only ways a secret may reach `dagger call` in CI. */
export function isSecretReference(value: string): boolean {
  return /^env:[A-Za-z_][A-Za-z0-9_]*$/.test(value) || /^file:\S+$/.test(value);
}

/** `dagger call` flags that may come before the first function. */
const CALL_FLAGS: Record<string, boolean> = { "-m": true, "--mod": true, "-o": true, "--output": true, "--json": false, "-j": false };

export interface CheckOptions {
  /** The object whose functions are the top level (the module's main object). */
  root?: string;
  /** The call runs in a project set up with `dagger init --blueprint`: no -m, no --source/--checkout of the project. */
  workspace?: boolean;
}

/** Flags whose default IS the project in the workspace form: passing the project again is noise. */
const PROJECT_DEFAULT_FLAGS = ["--source", "--checkout"];

export function checkDaggerCall(call: DaggerCall, surface: Surface, options: CheckOptions = {}): CheckedCall {
  const root = options.root ?? "Pipeline";
  const problems: string[] = [];
  const where = `${call.file}:${call.line}`;
  const problem = (msg: string) => problems.push(`${where}: ${msg}\n    ${call.text}`);
  const steps: ChainStep[] = [];

  for (let g = 0; g < call.globalArgs.length; g++) {
    const [flag] = call.globalArgs[g]!.value.split("=", 1);
    if (options.workspace && (flag === "-m" || flag === "--mod")) problem(`${flag}: in a project set up with dagger init --blueprint the module's functions are the top level; call them without ${flag}`);
    if (!(flag! in DAGGER_GLOBAL_FLAGS)) problem(`unknown dagger global flag ${flag}`);
    else if (DAGGER_GLOBAL_FLAGS[flag!] && !call.globalArgs[g]!.value.includes("=")) g++;
  }

  const args = call.args;
  let k = 0;
  while (k < args.length && args[k]!.value.startsWith("-")) {
    const [flag] = args[k]!.value.split("=", 1);
    if (!(flag! in CALL_FLAGS)) {
      problem(`unknown flag ${flag} before the first function (dagger call <function> ...)`);
      k++;
    } else k += CALL_FLAGS[flag!] && !args[k]!.value.includes("=") ? 2 : 1;
  }
  if (k >= args.length) problem("no function after `dagger call`");

  let object: string | undefined = root;
  let scalar = "";
  while (k < args.length) {
    const nameWord = args[k++]!;
    if (nameWord.dynamic) {
      problem(`function name ${nameWord.raw} is not a literal: the checker cannot verify it`);
      break;
    }
    const fnName = nameWord.value;
    if (object === undefined) {
      problem(`${fnName}: the previous function returns ${scalar}, which has no functions`);
      break;
    }
    const fns = surface.get(object);
    if (!fns) {
      problem(`${fnName}: ${object} is not a module object nor an allow-listed core type`);
      break;
    }
    const fn = fns.get(fnName);
    if (!fn) {
      problem(`unknown function ${fnName} on ${object} (has: ${[...fns.keys()].sort().join(", ")})`);
      break;
    }
    const step: ChainStep = { object, fn: fnName, flags: new Map() };
    steps.push(step);
    while (k < args.length && args[k]!.value.startsWith("-") && !args[k]!.dynamic) {
      const word = args[k++]!;
      const eq = word.value.indexOf("=");
      const flag = eq === -1 ? word.value : word.value.slice(0, eq);
      const spec = fn.flags.get(flag);
      if (!spec) {
        const known = [...fn.flags.keys()].sort().join(" ") || "none";
        problem(`unknown flag ${flag} for ${object}.${fnName} (flags: ${known})`);
        if (eq === -1 && k < args.length && !args[k]!.value.startsWith("-")) k++; // skip its value: best guess
        continue;
      }
      let value: ShellWord;
      if (eq !== -1) value = { ...word, raw: word.raw.slice(word.raw.indexOf("=") + 1), value: word.value.slice(eq + 1) };
      else if (spec.kind === "boolean") value = { ...word, raw: "true", value: "true", dynamic: false };
      else if (k < args.length) value = args[k++]!;
      else {
        problem(`${flag} of ${fnName} has no value`);
        break;
      }
      if (step.flags.has(flag) && spec.kind !== "list") problem(`${flag} given twice to ${fnName}`);
      step.flags.set(flag, value);
      if (options.workspace && PROJECT_DEFAULT_FLAGS.includes(flag) && /^\.\/?$/.test(value.value)) {
        problem(`${fnName} ${flag} ${value.raw}: the default is the project itself; leave it out`);
      }

      const secret = spec.typeName === "Secret" || looksSecret(flag);
      if (secret && !isSecretReference(value.value)) {
        problem(`plaintext secret: ${fnName} ${flag} ${value.raw} must be env:NAME or file:PATH (a plain value lands in the process list, the shell history and the CI log)`);
      }
      if (!value.dynamic) {
        if (spec.kind === "integer" && !/^-?\d+$/.test(value.value)) problem(`${fnName} ${flag} ${value.raw} is not an integer`);
        if (spec.kind === "boolean" && !/^(true|false)$/.test(value.value)) problem(`${fnName} ${flag}=${value.raw} is not true or false`);
        if (spec.choices && !spec.choices.some((c) => c.toLowerCase() === value.value.toLowerCase())) {
          problem(`${fnName} ${flag} ${value.raw} is not one of ${[...spec.choices].sort().join(", ")}`);
        }
      }
    }
    for (const spec of fn.flags.values()) {
      if (spec.required && !step.flags.has(spec.flag)) problem(`${fnName} needs ${spec.flag}`);
    }
    object = fn.returns;
    scalar = fn.returnKind.replace(/_KIND$/, "").toLowerCase();
  }
  return { call, steps, problems };
}
