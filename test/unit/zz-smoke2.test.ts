import { afterAll, expect, it } from "vitest";
import { FakeEngine } from "../support/engine/fake-engine.js";

const engine = new FakeEngine();
afterAll(() => engine.stop());
it("registers and calls", async () => {
  await engine.start();
  let t = Date.now();
  const mod = await engine.register();
  console.log("register ms", Date.now() - t, mod.def.objects.map((o) => o.data.name), mod.def.enums.length);
  const p = engine.objectType("Pipeline").data;
  console.log(p.functions.map((f) => `${f.name}:${f.cachePolicy ?? "-"}:${f.args.map((a) => a.name + (a.defaultValue !== undefined ? "=" + a.defaultValue : "")).join(",")}`).join("\n"));
  console.log("fields", p.fields.map((f) => f.name));
  t = Date.now();
  const r = await engine.call("Pipeline", "plan", {}, { branch: "da/develop", sha: "0123456789abcdef0123456789abcdef01234567" });
  console.log("call ms", Date.now() - t, r.exitCode, r.error, String(r.value).slice(0, 300), r.output.slice(0, 2000));
  expect(r.exitCode).toBe(0);
}, 300_000);
