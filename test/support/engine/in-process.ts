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

/** Install a fresh model of the engine over `world` as the global connection and return it. */
export async function installEngineModel(world: World = {}): Promise<EngineModel> {
  const model = new EngineModel(world);
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
