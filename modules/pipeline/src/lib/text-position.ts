/**
 * `line:column` positions in a text, for messages that name `file:line:column`. Pure.
 *
 * `positionsIn(text)` indexes the line starts once, so a parser reporting many problems (one bad
 * entry in each of 200,000) stays linear: each position is a binary search, not a rescan of the text.
 */

/** `line:column` (1-based) of a character offset; one call scans the text up to the offset. */
export function formatPosition(text: string, offset: number): string {
  return positionsIn(text)(offset);
}

/** A formatter of `line:column` for many offsets of one text (lines indexed once). */
export function positionsIn(text: string): (offset: number) => string {
  let starts: number[] | undefined;
  return (offset) => {
    if (starts === undefined) {
      starts = [0];
      for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    }
    // The last line start at or before the offset.
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return `${low + 1}:${offset - starts[low]! + 1}`;
  };
}
