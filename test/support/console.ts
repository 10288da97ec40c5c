/**
 * What a piece of code printed with console.log, captured instead of shown: runTests prints the
 * shard summary table to the Dagger log, and a unit test should assert it, not print it.
 */
import { vi } from "vitest";

export async function captureLog<T>(run: () => Promise<T>): Promise<{ result: T; printed: string[] }> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  try {
    const result = await run();
    return { result, printed: log.mock.calls.map((args) => args.map(String).join(" ")) };
  } finally {
    log.mockRestore();
  }
}
