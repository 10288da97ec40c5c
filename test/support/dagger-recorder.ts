/**
 * Records the GraphQL that Dagger functions would send, without an engine.
 *
 * The SDK's query builder is lazy: a function builds a chain of selections and only a leaf call
 * (`stdout`, `sync`, `id`, `publish`, ...) sends one query. This recorder stands in for the GraphQL
 * client, answers each query with an object shaped like its selection path, and keeps every query.
 * Objects passed as arguments (a service bound to a container, a secret) are sent first as `{ id }`
 * queries; the recorder hands out fake ids and `expand()` puts the producing query back in place,
 * so a test can assert on the whole graph of a call.
 *
 * This leans on SDK internals (`globalConnection`): the SDK version is pinned in package.json and
 * this file is the only place that knows it.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";

export type LeafAnswer = (field: string, query: string) => unknown;

export interface Recorder {
  /** Every query in the order sent. */
  queries: string[];
  /** Queries with fake ids replaced by the query that produced the id (recursively). */
  expanded(): string[];
  /** Expand one text (query or id) recursively. */
  expand(text: string): string;
  reset(): void;
}

const DEFAULT_LEAVES: Record<string, unknown> = {
  exitCode: 0,
  stdout: "",
  stderr: "",
  contents: "",
  entries: [],
  glob: [],
  publish: "registry.invalid/repo@sha256:" + "0".repeat(64),
  export: "",
  plaintext: "",
  name: "",
};

/** List-of-object fields: the SDK selects their ids (`exposedPorts { id }`); the recorder answers none. */
const OBJECT_LIST_FIELDS = new Set(["exposedPorts", "inputArgs", "envVariables", "labels"]);

/** Field names of the selection chain, skipping arguments and inline fragments. */
export function selectionPath(query: string): string[] {
  const names: string[] = [];
  let i = 0;
  let skipNext = false;
  while (i < query.length) {
    const c = query[i];
    if (c === "(") {
      i = skipBalanced(query, i);
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < query.length && /\w/.test(query[j])) j++;
      const word = query.slice(i, j);
      if (word === "on") skipNext = true;
      else if (skipNext) skipNext = false;
      else names.push(word);
      i = j;
      continue;
    }
    i++;
  }
  return names;
}

/** Skip a parenthesised argument list, honouring strings with escapes. Returns the index after `)`. */
function skipBalanced(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    } else if (c === "(") depth++;
    else if (c === ")" && --depth === 0) return i + 1;
  }
  return text.length;
}

function nest(names: string[], leaf: unknown): unknown {
  return names.reduceRight<unknown>((acc, name) => ({ [name]: acc }), leaf);
}

/** What the SDK needs of a GraphQL client: `request(query)` resolving to the `data` object. */
export interface GQLClientLike {
  request(query: unknown): Promise<unknown>;
}

/**
 * Make `client` the global `dag` connection (`globalConnection` in the SDK's
 * `dist/src/common/graphql/connection.js`, which the package's `exports` hide).
 */
export async function setGlobalGQLClient(client: GQLClientLike): Promise<void> {
  const sdkEntry = new URL(import.meta.resolve("@dagger.io/dagger")).pathname;
  const connectionFile = path.resolve(sdkEntry, "../common/graphql/connection.js");
  const { globalConnection } = await import(pathToFileURL(connectionFile).href);
  globalConnection.setGQLClient(client);
}

/** Install the recorder as the global `dag` connection. Answers leaves with `answer` or defaults. */
export async function installRecorder(answer: LeafAnswer = () => undefined): Promise<Recorder> {
  const queries: string[] = [];
  const producers = new Map<string, string>();

  const client = {
    async request(query: unknown) {
      const text = String(query).replace(/\s+/g, " ").trim();
      queries.push(text);
      const names = selectionPath(text);
      const leaf = names.at(-1) ?? "";
      let value: unknown;
      if (leaf === "id" && OBJECT_LIST_FIELDS.has(names.at(-2) ?? "")) return nest(names.slice(0, -1), []);
      if (leaf === "id" || leaf === "sync") {
        value = `fake-id-${producers.size + 1}`;
        producers.set(value as string, text);
      } else {
        value = answer(leaf, text);
        if (value === undefined) value = DEFAULT_LEAVES[leaf] ?? null;
      }
      return nest(names, value);
    },
  };
  await setGlobalGQLClient(client);

  const expand = (text: string, depth = 0): string =>
    depth > 50 ? text : text.replace(/fake-id-\d+/g, (id) => (producers.has(id) ? `<<${expand(producers.get(id)!, depth + 1)}>>` : id));

  return {
    queries,
    expand: (t) => expand(t),
    expanded: () => queries.map((q) => expand(q)),
    reset: () => {
      queries.length = 0;
      producers.clear();
    },
  };
}

/** Count non-overlapping occurrences of a fragment. */
export function countOf(text: string, fragment: string): number {
  return text.split(fragment).length - 1;
}

/** The last `path:` argument of a query (`exists(path: ...)`, `file(path: ...)`), or "". */
export function lastPath(query: string): string {
  return [...query.matchAll(/(?:exists|file)\s*\(\s*path:\s*"([^"]+)"/g)].map((m) => m[1]!).at(-1) ?? "";
}

/**
 * Answers for a source directory made of `files` (path -> text): `exists` and `contents`, by the
 * last path in the query; and `plaintext` of `env:NAME` secrets from `env` (what `--flag env:NAME`
 * would read). Anything else is left to the caller (undefined).
 */
export function answerFromFiles(files: () => Record<string, string>, env: Record<string, string> = {}): LeafAnswer {
  return (field, query) => {
    if (field === "exists") return lastPath(query) in files();
    if (field === "contents") return files()[lastPath(query)] ?? "";
    if (field === "plaintext") {
      const name = Object.keys(env).find((n) => query.includes(`env://${n}"`));
      return name === undefined ? undefined : env[name];
    }
    return undefined;
  };
}
