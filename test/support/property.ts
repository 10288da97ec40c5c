/**
 * One knob for every property test (test/property/*.test.ts, fast-check): how many inputs each
 * property tries. `npm test` uses a bounded default so CI stays fast; `npm run test:properties:long`
 * sets PROPERTY_RUNS far higher to hunt for rarer failures. A failing run prints fast-check's seed
 * and path; pass them back through `fc.assert(..., { seed, path })` to replay it.
 */
const DEFAULT_RUNS = 200;

/** fast-check parameters for one property: `fc.assert(property, propertyParameters())`. */
export function propertyParameters(): { numRuns: number } {
  const fromEnv = Number(process.env.PROPERTY_RUNS);
  return { numRuns: Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_RUNS };
}
