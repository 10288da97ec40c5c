import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatQueueBatches, planQueue } from "../../modules/pipeline/src/lib/queue-plan.js";
import { parseShardUnit } from "../../modules/pipeline/src/lib/shard-planner.js";
import type { ResolvedFileTiming } from "../../modules/pipeline/src/lib/timings.js";
import { propertyParameters } from "../support/property.js";

const filesArb = fc
  .uniqueArray(
    fc.record({ name: fc.stringMatching(/^[a-z]{1,6}$/), seconds: fc.double({ min: 0, max: 50, noNaN: true }), examples: fc.option(fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 2, maxLength: 6 }), { nil: undefined }) }),
    { selector: (f) => f.name, minLength: 1, maxLength: 40 },
  )
  .map((fs) =>
    fs.map((f): ResolvedFileTiming => {
      const path = `spec/${f.name}_spec.rb`;
      return { path, seconds: f.seconds, estimated: false, ...(f.examples ? { examples: f.examples.map((s, i) => ({ id: `${path}[1:${i + 1}]`, seconds: s })) } : {}) };
    }),
  );

describe("planQueue properties", () => {
  it("every file (or each of its examples) is queued exactly once, in any input order, byte-identically", () => {
    fc.assert(
      fc.property(filesArb, fc.integer({ min: 1, max: 12 }), fc.boolean(), (files, workers, reverse) => {
        const plan = planQueue(reverse ? [...files].reverse() : files, { workers });
        expect(formatQueueBatches(plan)).toBe(formatQueueBatches(planQueue(files, { workers })));
        const covered = plan.batches.flatMap((b) => b.units.flatMap((u) => {
          const { file, ids } = parseShardUnit(u);
          return ids.length ? ids : [file];
        }));
        expect(new Set(covered).size).toBe(covered.length);
        for (const f of files) {
          const mine = covered.filter((c) => c === f.path || c.startsWith(`${f.path}[`));
          if (mine.includes(f.path)) expect(mine).toEqual([f.path]);
          else expect(mine.sort()).toEqual(f.examples!.map((e) => e.id).sort());
        }
        expect(plan.batches.map((b) => b.id)).toEqual(plan.batches.map((_, i) => i));
      }),
      propertyParameters(),
    );
  });
});
