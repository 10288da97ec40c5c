/**
 * The registry deploy and publish-app-image push to in the engine tests. The app image is built
 * FROM the base image by name, and the engine pulls that name through its own network, so a
 * registry given with `with-registry-service` cannot serve it (README, "Verified on a real engine").
 * This registry listens on the engine network's gateway address on this host instead, a name both
 * the module's container and the engine reach, over plain HTTP: pipeline.json
 * `registry.plainHttp: true`, and the engine's engine.json must say `registries."<host>".http: true`.
 */
import { ensureRegistry, type LocalRegistry } from "../../support/docker.js";

/** The gateway of the engine's container network on this host (Dagger's default 10.87.0.0/16). */
export const ENGINE_GATEWAY = process.env.PIPELINE_ENGINE_GATEWAY ?? "10.87.0.1";
export const DEPLOY_REGISTRY_PORT = Number(process.env.PIPELINE_ENGINE_DEPLOY_REGISTRY_PORT ?? 15200);
export const DEPLOY_REGISTRY: LocalRegistry = { name: "engine-deploy", host: `${ENGINE_GATEWAY}:${DEPLOY_REGISTRY_PORT}`, port: DEPLOY_REGISTRY_PORT };

/** Start it unless it answers; fails when the gateway address does not exist (no engine network yet). */
export function ensureDeployRegistry(): Promise<LocalRegistry> {
  return ensureRegistry(DEPLOY_REGISTRY);
}
