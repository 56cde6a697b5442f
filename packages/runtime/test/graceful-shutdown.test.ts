import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { canConnect } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { TestService } from "./fixtures/test-service.ts";

const fixture = fileURLToPath(new URL("./fixtures/slow-service.ts", import.meta.url));

function startFixture(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--conditions=@kindred/source", fixture], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Record<string, unknown>[] = [];
  let buffer = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const part of parts) if (part.trim()) lines.push(JSON.parse(part));
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { child, lines, stderr: () => stderr };
}

async function serving(lines: Record<string, unknown>[], child: ChildProcess): Promise<number> {
  for (;;) {
    const line = lines.find((l) => l.msg === "serving");
    if (line !== undefined) return line.port as number;
    if (child.exitCode !== null) throw new Error(`fixture exited with ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function slowClient(port: number) {
  return createClient(
    TestService,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1" }),
  ) as unknown as { slow(req: unknown): Promise<{ value: string }> };
}

describe("graceful shutdown", () => {
  it("on SIGTERM finishes the in-flight request, refuses new connections and exits 0", async () => {
    const { child, lines, stderr } = startFixture({ SLOW_MS: "1500", SHUTDOWN_TIMEOUT_MS: "5000" });
    const exited = once(child, "exit");
    const port = await serving(lines, child);
    const client = slowClient(port);

    const inFlight = client.slow({ $typeName: StringValueSchema.typeName, value: "req" });
    await new Promise((r) => setTimeout(r, 200)); // let the request reach the handler
    const signalledAt = Date.now();
    child.kill("SIGTERM");
    while (!lines.some((l) => l.msg === "draining")) await new Promise((r) => setTimeout(r, 10));

    expect(await canConnect(port)).toBe(false);
    expect((await inFlight).value).toBe("slow req");
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(5_000 + 2_000);
    expect(lines.map((l) => l.msg)).toEqual(
      expect.arrayContaining(["shutting down", "draining", "stopped"]),
    );
    expect(stderr()).toBe("");
  });

  it("cuts a request that outlives the deadline and still exits", async () => {
    const { child, lines } = startFixture({ SLOW_MS: "20000", SHUTDOWN_TIMEOUT_MS: "500" });
    const exited = once(child, "exit");
    const port = await serving(lines, child);
    const client = slowClient(port);
    const inFlight = client
      .slow({ $typeName: StringValueSchema.typeName, value: "req" })
      .catch((e) => e);
    await new Promise((r) => setTimeout(r, 200));
    child.kill("SIGTERM");
    const [code] = await exited;
    expect(code).toBe(0);
    expect(await inFlight).toBeInstanceOf(Error);
    expect(lines.some((l) => l.msg === "shutdown deadline passed: cut in-flight requests")).toBe(
      true,
    );
  });
});
