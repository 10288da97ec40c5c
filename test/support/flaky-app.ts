/** A copy of the example app with one flaky and one always-failing example: retries, for real. */
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { EXAMPLE_APP } from "./shard-runner.js";

export const FLAKY_SPEC_FILE = "spec/flaky/retry_spec.rb";

export const FLAKY_SPEC = `# frozen_string_literal: true

require "rails_helper"

RSpec.describe "retried examples" do
  it "passes" do
    expect(Loan.count).to eq(0)
  end

  it "fails the first time only" do
    marker = Rails.root.join("tmp", "flaky-once")
    first = !File.exist?(marker)
    File.write(marker, "seen")
    expect(first).to be(false)
  end

  it "always fails" do
    expect(1 + 1).to eq(3)
  end
end
`;

/** Copies the example app into `root/app` and adds the flaky spec; returns the app folder. */
export async function makeFlakyApp(root: string): Promise<string> {
  const app = path.join(root, "app");
  execFileSync("cp", ["-a", EXAMPLE_APP, app]);
  await mkdir(path.join(app, path.dirname(FLAKY_SPEC_FILE)), { recursive: true });
  await writeFile(path.join(app, FLAKY_SPEC_FILE), FLAKY_SPEC);
  return app;
}
