import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { recordingLogger, waitUntil } from "@kindred/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RulesConfigError } from "../../src/rules/config.ts";
import { type RulesReload, RulesSource } from "../../src/rules/rules-source.ts";
import { fakeSignals, input } from "./fakes.ts";

/** A rules file with one bank holding `term`. */
const rulesWith = (term: string) =>
  JSON.stringify({
    version: 1,
    banks: [{ id: "bank", reason: "other", severity: "low", outcome: "flag", terms: [term] }],
  });

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kindred-rules-"));
  path = join(dir, "rules.json");
  await writeFile(path, rulesWith("apple"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function matches(source: RulesSource, body: string): Promise<boolean> {
  const verdict = await source.current().evaluate(input(body), fakeSignals().signals);
  return verdict.matches.length > 0;
}

function open(options: { watch?: boolean; pollIntervalMs?: number; debounceMs?: number } = {}) {
  const logger = recordingLogger();
  const reloads: RulesReload[] = [];
  const opening = RulesSource.open({
    path,
    logger,
    watch: false,
    pollIntervalMs: 0,
    onReload: (r) => reloads.push(r),
    ...options,
  });
  return { opening, logger, reloads };
}

describe("RulesSource", () => {
  it("loads the file and reloads it when asked", async () => {
    const { opening, reloads } = open();
    await using source = await opening;
    expect(await matches(source, "an apple")).toBe(true);
    const first = source.hash;
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(source.generation).toBe(1);

    expect(await source.reload()).toEqual({ status: "unchanged", hash: first });
    await writeFile(path, rulesWith("pear"));
    const reload = await source.reload();
    expect(reload).toMatchObject({ status: "loaded" });
    expect(reloads).toEqual([reload]);
    expect(source.hash).not.toBe(first);
    expect(source.generation).toBe(2);
    expect(await matches(source, "an apple")).toBe(false);
    expect(await matches(source, "a pear")).toBe(true);
  });

  it("keeps the rules in use when the new file is invalid, and reports it once", async () => {
    const { opening, logger, reloads } = open();
    await using source = await opening;
    const hash = source.hash;
    await writeFile(path, JSON.stringify({ version: 1, banks: [{ id: "Bad id" }] }));

    const rejected = await source.reload();
    expect(rejected.status).toBe("rejected");
    expect(rejected.error).toBeInstanceOf(RulesConfigError);
    expect(rejected.error?.message).toMatch(/banks\[0\]\.id: must be/);
    expect(await source.reload()).toMatchObject({ status: "rejected" });
    expect(source.hash).toBe(hash);
    expect(await matches(source, "an apple")).toBe(true);
    expect(reloads.map((r) => r.status)).toEqual(["rejected"]);
    const errors = logger.entries.filter((e) => e.level === "error");
    expect(errors).toHaveLength(1);
    expect(errors[0]?.obj).toMatchObject({ path, inUse: hash });

    await rm(path);
    expect(await source.reload()).toMatchObject({ status: "rejected", hash: undefined });
    expect(await matches(source, "an apple")).toBe(true);

    await writeFile(path, rulesWith("pear"));
    expect(await source.reload()).toMatchObject({ status: "loaded" });
    expect(reloads.map((r) => r.status)).toEqual(["rejected", "rejected", "loaded"]);
  });

  it("refuses to open an invalid or missing file", async () => {
    await writeFile(path, "{}");
    await expect(open().opening).rejects.toThrow(/^invalid rules in .*rules\.json: version: /);
    await rm(path);
    await expect(open().opening).rejects.toThrow(/\(file\): cannot be read \(ENOENT\)/);
  });

  it("picks up a changed file by watching its directory", async () => {
    await using source = await open({ watch: true, debounceMs: 10 }).opening;
    await writeFile(path, rulesWith("pear"));
    await waitUntil(
      async () => source.generation,
      (g) => g === 2,
      { timeoutMs: 10_000, what: "the watcher to reload" },
    );
    expect(await matches(source, "a pear")).toBe(true);
  });

  it("picks up a ConfigMap-style symlink swap", async () => {
    // Kubernetes mounts rules.json -> ..data/rules.json and ..data -> a timestamped directory,
    // and swaps ..data atomically.
    for (const [version, term] of [
      ["v1", "apple"],
      ["v2", "pear"],
    ] as const) {
      await mkdir(join(dir, version));
      await writeFile(join(dir, version, "rules.json"), rulesWith(term));
    }
    await rm(path);
    await symlink("v1", join(dir, "..data"));
    await symlink(join("..data", "rules.json"), path);
    await using source = await open({ watch: true, debounceMs: 10 }).opening;
    expect(await matches(source, "an apple")).toBe(true);

    await symlink("v2", join(dir, "..data_tmp"));
    await rename(join(dir, "..data_tmp"), join(dir, "..data"));
    await waitUntil(
      async () => source.generation,
      (g) => g === 2,
      { timeoutMs: 10_000, what: "the watcher to reload" },
    );
    expect(await matches(source, "a pear")).toBe(true);
  });

  it("polls when not watching", async () => {
    await using source = await open({ pollIntervalMs: 20 }).opening;
    await writeFile(path, rulesWith("pear"));
    await waitUntil(
      async () => source.generation,
      (g) => g === 2,
      { timeoutMs: 10_000, what: "the poll to reload" },
    );
    await source.whenIdle();
    expect(await matches(source, "a pear")).toBe(true);
  });
});
