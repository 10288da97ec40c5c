/**
 * The engine model as the global `dag` connection, in the test process: graph tests build the
 * module's graphs with the real SDK and the model evaluates them under the engine's rules (an exec
 * killed by a signal fails, a build keeps its secret mounts, a service health-checks its ports...).
 * Errors reach the SDK as the engine's GraphQL errors do, so `ExecError` and the rest behave as in
 * a real session.
 */
import { ClientError } from "graphql-request";
import { setGlobalGQLClient } from "../dagger-recorder.js";
import { EngineError } from "./objects.js";
import { EngineModel, type World } from "./model.js";

const realFetch = globalThis.fetch;

/**
 * Install a fresh model of the engine over `world` as the global connection and return it. The
 * test process stands in for the module's container: `globalThis.fetch` goes through the model's
 * network (loopback is that container; started services resolve) until `restoreFetch()`.
 */
export async function installEngineModel(world: World = {}): Promise<EngineModel> {
  const model = new EngineModel(world);
  globalThis.fetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const headers: Record<string, string> = {};
    new Headers(init.headers ?? {}).forEach((v, k) => (headers[k] = v));
    return model.moduleFetch(url, { method: init.method ?? "GET", headers });
  }) as typeof fetch;
  await setGlobalGQLClient({
    async request(query: unknown) {
      const text = String(query);
      try {
        return model.request(text);
      } catch (err) {
        if (!(err instanceof EngineError)) throw err;
        throw new ClientError({ errors: [{ message: err.message, extensions: err.extensions }], status: 200, headers: new Headers() } as never, { query: text });
      }
    },
  });
  return model;
}

/** Give the test process its real `fetch` back. */
export function restoreFetch(): void {
  globalThis.fetch = realFetch;
}
