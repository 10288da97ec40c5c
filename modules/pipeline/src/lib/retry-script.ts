/**
 * The bash a shard runs after its first rspec pass to retry failed examples: up to `retries`
 * times, the examples the last attempt reported failed (ids from its rspec JSON) run again in a
 * fresh rspec process, each attempt writing its own reports (lib/retries.ts names them and merges
 * them). A non-zero exit without failed examples (a load error) is not retried: it is no flake.
 * Expects `$out`, `$status` (the first pass's exit code) and leaves `$status` as the last attempt's.
 */
import { retryReportFiles } from "./retries.js";

/** Prints the ids of the failed examples of an rspec JSON report, one a line. Ruby: the shard image has no node. */
const FAILED_IDS_RB = [
  "require 'json'",
  "JSON.parse(File.read(ARGV[0]))['examples'].each { |e| puts e['id'].sub(%r{\\A\\./}, '') if e['status'] == 'failed' }",
].join("\n");

export function formatRetryLoop(retries: number): string[] {
  if (retries <= 0) return [];
  const { junit, rspecJson: json } = retryReportFiles("$attempt");
  return [
    `cat > "$out/failed-ids.rb" <<'PIPELINE_RB'`,
    FAILED_IDS_RB,
    "PIPELINE_RB",
    "attempt=0",
    'last_json="$out/rspec.json"',
    `while (( status != 0 && attempt < ${retries} )); do`,
    '  [ -f "$last_json" ] || break',
    "  attempt=$((attempt + 1))",
    '  ruby "$out/failed-ids.rb" "$last_json" > "$out/failed-$attempt.txt" 2>/dev/null || break',
    '  failed=(); while IFS= read -r id; do [ -n "$id" ] && failed+=("$id"); done < "$out/failed-$attempt.txt"',
    '  if (( ${#failed[@]} == 0 )); then attempt=$((attempt - 1)); break; fi',
    `  echo "pipeline: retry $attempt of ${retries}: \${#failed[@]} failed example(s) in a fresh process"`,
    `  bundle exec rspec --format RspecJunitFormatter --out "$out/${junit}" --format json --out "$out/${json}" --format progress --force-color "\${failed[@]}"`,
    "  status=$?",
    `  last_json="$out/${json}"`,
    "done",
    'echo "$attempt" > "$out/attempts"',
  ];
}
