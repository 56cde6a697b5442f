/**
 * Checks that keep an operator's regular expression from stalling the scanner. JavaScript's
 * engine backtracks, so a pattern can take exponential time on a short input; three guards:
 *
 * - a pattern is at most `maxPatternLength` characters, and only the flags i, m, s, u and v are
 *   accepted (g and y would make a shared RegExp stateful);
 * - a pattern with a nested unbounded quantifier, such as `(a+)+` or `(\w*\s?)*`, the usual
 *   cause of catastrophic backtracking, is rejected;
 * - the engine runs expressions on at most `regexInputLimit` characters of a body.
 *
 * This catches the common mistakes, not every slow pattern (overlapping alternatives such as
 * `(a|a)*` still backtrack): the rules file is written by trusted operators, and reviewed.
 */

export const maxPatternLength = 500;
export const regexInputLimit = 10_000;
const allowedFlags = /^[imsuv]*$/;

/** Why the pattern is refused, or undefined when it may be used. */
export function unsafePatternReason(pattern: string, flags: string): string | undefined {
  if (pattern.length > maxPatternLength) return `is longer than ${maxPatternLength} characters`;
  if (!allowedFlags.test(flags)) return "may only use the flags i, m, s, u and v";
  try {
    new RegExp(pattern, flags);
  } catch (err) {
    return `does not compile: ${(err as Error).message}`;
  }
  if (hasNestedQuantifier(pattern)) {
    return "repeats a group that itself repeats without bound (catastrophic backtracking)";
  }
  return undefined;
}

/** Whether a group with an unbounded quantifier inside is itself repeated without bound. */
export function hasNestedQuantifier(pattern: string): boolean {
  // For each open group: whether it contains an unbounded quantifier.
  const groups: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      continue;
    }
    if (ch === "[") {
      inClass = true;
    } else if (ch === "(") {
      groups.push(false);
    } else if (ch === ")") {
      const inner = groups.pop() ?? false;
      const repeated = unboundedAt(pattern, i + 1);
      if (inner && repeated) return true;
      if (inner || repeated) markOpen(groups);
    } else if (unboundedAt(pattern, i)) {
      markOpen(groups);
    }
  }
  return false;
}

function markOpen(groups: boolean[]) {
  if (groups.length > 0) groups[groups.length - 1] = true;
}

/** Whether an unbounded quantifier (*, + or {n,}) begins at `i`. */
function unboundedAt(pattern: string, i: number): boolean {
  const ch = pattern[i];
  if (ch === "*" || ch === "+") return true;
  return ch === "{" && /^\{\d+,\}/.test(pattern.slice(i, i + 12));
}
