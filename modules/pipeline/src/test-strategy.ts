/** How `dagger call test` spreads the suite over its shards. */
export enum TestStrategy {
  /** A timing-balanced plan made before the run: shard i runs its own list (what --shard-index across CI nodes uses). */
  Static = "static",
  /** Inside one engine the shards pull batches from one queue service, longest first, until it is empty. */
  Queue = "queue",
}
