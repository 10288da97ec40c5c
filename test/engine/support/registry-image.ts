/**
 * An image pushed to a local registry, read back over the registry API as a client would pull it:
 * its config (env, labels, history) and every layer, uncompressed. The engine tests search them for
 * a secret that must not be there.
 */
import { gunzipSync } from "node:zlib";

const MANIFEST_TYPES = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

interface Descriptor {
  digest: string;
  mediaType?: string;
}

async function get(url: string, accept?: string): Promise<Buffer> {
  const res = await fetch(url, accept ? { headers: { accept } } : {});
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

/** `registry` is host:port (plain HTTP), `reference` a tag or a digest. */
export async function readPushedImage(registry: string, repository: string, reference: string): Promise<{ config: string; layers: Buffer[] }> {
  const base = `http://${registry}/v2/${repository}`;
  let manifest = JSON.parse((await get(`${base}/manifests/${reference}`, MANIFEST_TYPES)).toString("utf8")) as { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
  if (manifest.manifests) manifest = JSON.parse((await get(`${base}/manifests/${manifest.manifests[0]!.digest}`, MANIFEST_TYPES)).toString("utf8")) as typeof manifest;
  const config = (await get(`${base}/blobs/${manifest.config!.digest}`)).toString("utf8");
  const layers = await Promise.all(
    (manifest.layers ?? []).map(async (l) => {
      const blob = await get(`${base}/blobs/${l.digest}`);
      return blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
    }),
  );
  return { config, layers };
}
