import { readFile, rename, writeFile } from "node:fs/promises";

/** The start of a file written by `writeBenchSection` that had none yet. */
export const benchReportHeader = `# Benchmarks

Written by \`pnpm bench\`. Each bench rewrites only its own section, between its \`bench:<name>\`
markers, and leaves the rest of this file as it is. The figures hold for the machine and the
moment they were measured on: compare runs on the same machine only.
`;

const markers = (name: string) => ({
  start: `<!-- bench:${name}:start -->`,
  end: `<!-- bench:${name}:end -->`,
});

/**
 * `document` with the section `name` (between `<!-- bench:<name>:start -->` and
 * `<!-- bench:<name>:end -->`) replaced by `markdown`; a section not there yet is appended.
 * Everything outside the markers stays as it was.
 */
export function replaceBenchSection(document: string, name: string, markdown: string): string {
  if (!/^[a-z0-9-]+$/.test(name)) throw new RangeError(`bad bench section name "${name}"`);
  const { start, end } = markers(name);
  const section = `${start}\n\n${markdown.trim()}\n\n${end}`;
  const from = document.indexOf(start);
  if (from === -1) return `${document.trimEnd()}\n\n${section}\n`;
  const to = document.indexOf(end, from);
  if (to === -1) throw new Error(`${start} has no ${end}`);
  return document.slice(0, from) + section + document.slice(to + end.length);
}

/**
 * Writes one bench's section of the Markdown report `file` (see `replaceBenchSection`),
 * creating the file with `benchReportHeader` when it does not exist. The new text replaces the
 * file in one rename, so a bench that fails midway leaves the previous report whole.
 */
export async function writeBenchSection(file: URL, name: string, markdown: string): Promise<void> {
  let document: string;
  try {
    document = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    document = benchReportHeader;
  }
  const next = new URL(`${file.href}.${process.pid}.tmp`);
  await writeFile(next, replaceBenchSection(document, name, markdown));
  await rename(next, file);
}

/** Aligned plain text, for stdout. */
export function textTable(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("   ");
  return all.map(line).join("\n");
}

/** A Markdown table, padded the way Biome formats one. */
export function markdownTable(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(3, ...all.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const rule = `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`;
  return [line(head), rule, ...rows.map(line)].join("\n");
}
