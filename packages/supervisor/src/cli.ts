#!/usr/bin/env node
// `npm start` ends here: migrate, start all seven services, supervise them, stop them on
// Ctrl-C or SIGTERM. Output lines are prefixed with the service's name.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Supervisor } from "./supervisor.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const colors = [36, 32, 33, 35, 34, 96, 92];
const names = ["identity", "circles", "content", "moderation", "realtime", "notifier", "gateway"];
const width = Math.max(...names.map((n) => n.length));
const tty = process.stdout.isTTY === true;

function prefix(name: string): string {
  const label = name.padEnd(width);
  const color = colors[names.indexOf(name) % colors.length] ?? 37;
  return tty ? `\u001b[${color}m${label} |\u001b[0m` : `${label} |`;
}

const supervisor = new Supervisor({
  root,
  env: process.env,
  sink: (name, line, stream) => {
    (stream === "stderr" ? process.stderr : process.stdout).write(`${prefix(name)} ${line}\n`);
  },
  notice: (message) => process.stdout.write(`${prefix("kindred")} ${message}\n`),
});
const notice = (message: string) => process.stdout.write(`${prefix("kindred")} ${message}\n`);

const stopping = new AbortController();
let exitCode = 0;
async function shutdown(signal: string): Promise<void> {
  if (stopping.signal.aborted) return;
  stopping.abort();
  notice(`${signal}: stopping all services`);
  const exits = await supervisor.stop();
  for (const [name, exit] of Object.entries(exits)) {
    const ok = exit.code === 0;
    if (!ok) exitCode = 1;
    notice(
      `${name} exited ${exit.signal === null ? `with code ${exit.code}` : `on ${exit.signal}`}`,
    );
  }
  process.exitCode = exitCode;
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
// A wrapper that dies without passing its signal on (a shell between npm and us) leaves us
// orphaned: treat that as SIGTERM rather than running on unsupervised.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void shutdown("parent exited");
}, 500).unref();

try {
  notice("creating databases and running migrations");
  await supervisor.migrate();
  notice("starting services");
  supervisor.start();
  await supervisor.waitReady(stopping.signal);
  notice(`Kindred is up: ${supervisor.gatewayUrl}`);
} catch (err) {
  if (!stopping.signal.aborted) {
    notice(`start failed: ${err instanceof Error ? err.message : String(err)}`);
    await shutdown("start failure");
    process.exitCode = 1;
  }
}
