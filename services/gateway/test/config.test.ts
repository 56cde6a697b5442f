import { describe, expect, it } from "vitest";
import { loadGatewayConfig } from "../src/config.ts";

const production = {
  KINDRED_ENV: "production",
  REDIS_URL: "redis://redis:6379",
  NATS_URL: "nats://nats:4222",
  IDENTITY_URL: "http://identity:8081",
  CIRCLES_URL: "http://circles:8082",
  CONTENT_URL: "http://content:8083",
  MODERATION_URL: "http://moderation:8084",
  REALTIME_URL: "http://realtime:8085",
  NOTIFIER_URL: "http://notifier:8086",
};

describe("gateway config", () => {
  it("trusts identity's JWKS outside production when no keys are named", () => {
    const config = loadGatewayConfig({ KINDRED_ENV: "test", IDENTITY_URL: "http://id:9999" });
    expect(config.auth).toMatchObject({
      jwksUrl: "http://id:9999/.well-known/jwks.json",
      jwks: undefined,
      revocationLookbackMs: 900_000,
    });
    expect(config.extra.EVENTS_NAMESPACE).toBe("");
    expect(loadGatewayConfig({ KINDRED_ENV: "development" }).auth.jwksUrl).toBe(
      "http://127.0.0.1:8081/.well-known/jwks.json",
    );
  });

  it("keeps keys it is given", () => {
    const jwks = '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"abc"}]}';
    expect(loadGatewayConfig({ KINDRED_ENV: "test", AUTH_JWKS: jwks }).auth).toMatchObject({
      jwksUrl: undefined,
      jwks,
    });
    const url = "https://keys.example/jwks.json";
    expect(loadGatewayConfig({ KINDRED_ENV: "test", AUTH_JWKS_URL: url }).auth.jwksUrl).toBe(url);
  });

  it("requires named keys in production", () => {
    expect(() => loadGatewayConfig(production)).toThrow(
      "invalid configuration: AUTH_JWKS_URL is required (or AUTH_JWKS)",
    );
    const url = "http://identity:8081/.well-known/jwks.json";
    expect(loadGatewayConfig({ ...production, AUTH_JWKS_URL: url }).auth.jwksUrl).toBe(url);
  });
});
