/**
 * How `dagger call test` spreads the suite over its shards. Member names in lower case, as in
 * choices.ts: they are what `--help` lists and `--strategy` accepts.
 */
export enum TestStrategy {
  /** A timing-balanced plan made before the run: shard i runs its own list (what --shard-index across CI nodes uses). */
  static = "static",
  /** Inside one engine the shards pull batches from one queue service, longest first, until it is empty. */
  queue = "queue",
}
