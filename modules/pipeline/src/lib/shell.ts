/**
 * POSIX shell quoting, the one implementation every generated command line uses (shard scripts,
 * `npm run shards` output, GIT_SSH_COMMAND).
 */

/** Single-quote a word unless it is plainly safe: any string round-trips, `[1:2]` and spaces included. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Words to one command line. */
export function shellCommand(words: readonly string[]): string {
  return words.map(shellQuote).join(" ");
}
