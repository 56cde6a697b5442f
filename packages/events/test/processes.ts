import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { waitUntil } from "@kindred/testing";

const fixture = fileURLToPath(new URL("./fixtures/backbone-process.ts", import.meta.url));

/** Starts the relay or a consumer in its own process; resolves once it is running. */
export async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ["--conditions=@kindred/source", "--experimental-transform-types", "--no-warnings", fixture],
    {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  child.stdout?.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const deadline = Date.now() + 15_000;
  while (!out.includes('"msg":"started"')) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error("worker did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
  return child;
}

export async function kill(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  await once(child, "exit");
}

/** Polls `probe` until `ok` (a minute at most: other processes are slow on a busy machine). */
export const until = <T>(probe: () => Promise<T>, ok: (v: T) => boolean) =>
  waitUntil(probe, ok, { timeoutMs: 60_000 });
