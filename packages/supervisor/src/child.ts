import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";

export type LineSink = (service: string, line: string, stream: "stdout" | "stderr") => void;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One child process with its output split into lines and handed to `sink`. */
export function spawnService(
  name: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; sink: LineSink },
): { child: ChildProcess; exited: Promise<ExitInfo> } {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of ["stdout", "stderr"] as const) {
    const source = child[stream];
    if (source === null) continue;
    createInterface({ input: source }).on("line", (line) => options.sink(name, line, stream));
  }
  const exited = once(child, "exit").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, exited };
}
