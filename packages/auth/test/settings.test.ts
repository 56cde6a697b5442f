import { ConfigError, type KindredEnv, loadConfig } from "@kindred/config";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { authVars, checkAuthSettings, toAuthSettings } from "../src/index.ts";
import { createTestSigner } from "../src/testing.ts";

const load = (env: Record<string, string>, kindredEnv: KindredEnv = "development") =>
  loadConfig(z.object(authVars(kindredEnv)), env);

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  return expect.fail("no ConfigError was thrown");
}

describe("authVars and toAuthSettings", () => {
  it("defaults issuer and audience, with no key source", () => {
    expect(toAuthSettings(load({}))).toEqual({
      issuer: "kindred-identity",
      audience: "kindred",
      jwksUrl: undefined,
      jwks: undefined,
      revocationLookbackMs: 900_000,
    });
  });

  it("reads every variable", async () => {
    const { jwks } = await createTestSigner();
    expect(
      toAuthSettings(
        load({
          AUTH_ISSUER: "idp",
          AUTH_AUDIENCE: "app",
          AUTH_JWKS: jwks,
          AUTH_REVOCATION_LOOKBACK_MS: "3900000",
        }),
      ),
    ).toEqual({
      issuer: "idp",
      audience: "app",
      jwksUrl: undefined,
      jwks,
      revocationLookbackMs: 3_900_000,
    });
    const url = "https://identity.internal/.well-known/jwks.json";
    expect(toAuthSettings(load({ AUTH_JWKS_URL: url })).jwksUrl).toBe(url);
  });

  it("refuses a revocation lookback beyond a day", () => {
    const err = configError(() => load({ AUTH_REVOCATION_LOOKBACK_MS: "90000000" }));
    expect(err.issues).toEqual([
      {
        variable: "AUTH_REVOCATION_LOOKBACK_MS",
        message: 'must be an integer from 0 to 86400000, got "90000000"',
      },
    ]);
  });

  it("refuses a JWKS URL that is not http(s)", () => {
    const err = configError(() => load({ AUTH_JWKS_URL: "ftp://identity/jwks.json" }));
    expect(err.issues).toEqual([
      { variable: "AUTH_JWKS_URL", message: 'must be a URL with scheme http or https, got "ftp"' },
    ]);
  });

  it("refuses a malformed inline JWKS without echoing it", () => {
    const secretish = '{"keys": [{"kty": "oct", "k": "hunter2"}'; // truncated JSON
    const err = configError(() => load({ AUTH_JWKS: secretish }));
    expect(err.message).toBe(
      "invalid configuration: AUTH_JWKS is not valid JSON; it must be a JSON Web Key Set: " +
        '{"keys": [{"kty": ...}, ...]} with at least one key',
    );
    expect(err.message).not.toContain("hunter2");
    for (const shaped of ['{"key": []}', '{"keys": []}', "[]", '{"keys": [{"k": "hunter2"}]}']) {
      const issue = configError(() => load({ AUTH_JWKS: shaped })).issues[0];
      expect(issue).toEqual({
        variable: "AUTH_JWKS",
        message: 'must be a JSON Web Key Set: {"keys": [{"kty": ...}, ...]} with at least one key',
      });
    }
  });

  it("requires a key source in production", () => {
    const err = configError(() => toAuthSettings(load({}, "production"), "production"));
    expect(err.message).toBe("invalid configuration: AUTH_JWKS_URL is required (or AUTH_JWKS)");
    expect(checkAuthSettings(toAuthSettings(load({})), "development")).toEqual([]);
    expect(
      toAuthSettings(load({ AUTH_JWKS_URL: "https://id/jwks" }, "production"), "production")
        .jwksUrl,
    ).toBe("https://id/jwks");
  });

  it("refuses both key sources at once", async () => {
    const { jwks } = await createTestSigner();
    const vars = load({ AUTH_JWKS_URL: "https://id/jwks", AUTH_JWKS: jwks });
    expect(checkAuthSettings(toAuthSettings(vars), "test")).toEqual([
      { variable: "AUTH_JWKS", message: "and AUTH_JWKS_URL are both set; set only one" },
    ]);
  });
});
