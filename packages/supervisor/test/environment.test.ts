import { describe, expect, it } from "vitest";
import { Supervisor, services } from "../src/index.ts";

function supervisor(env: NodeJS.ProcessEnv, ports = {}) {
  return new Supervisor({ root: "/nowhere", env, sink: () => {}, notice: () => {}, ports });
}

const spec = (name: string) => {
  const found = services.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no service ${name}`);
  return found;
};

describe("the environment of each service", () => {
  it("points the services that verify tokens at identity's JWKS", () => {
    const local = supervisor({});
    for (const name of ["gateway", "circles", "content", "moderation", "realtime", "notifier"]) {
      expect(local.envFor(spec(name)).AUTH_JWKS_URL, name).toBe(
        "http://127.0.0.1:8081/.well-known/jwks.json",
      );
    }
    // Identity signs the tokens: it checks them against its own keys.
    expect(local.envFor(spec("identity")).AUTH_JWKS_URL).toBeUndefined();
    const moved = supervisor({}, { identity: { port: 18081, healthPort: 19081 } });
    expect(moved.envFor(spec("content")).AUTH_JWKS_URL).toBe(
      "http://127.0.0.1:18081/.well-known/jwks.json",
    );
  });

  it("keeps keys the caller named", () => {
    const url = "https://keys.example/jwks.json";
    expect(supervisor({ AUTH_JWKS_URL: url }).envFor(spec("gateway")).AUTH_JWKS_URL).toBe(url);
    const inline = supervisor({ AUTH_JWKS: '{"keys":[]}' }).envFor(spec("gateway"));
    expect(inline.AUTH_JWKS_URL).toBeUndefined();
    expect(inline.AUTH_JWKS).toBe('{"keys":[]}');
  });
});
