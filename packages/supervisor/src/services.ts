/** The seven deployables as `npm start` runs them, with their default ports. */
export interface ServiceSpec {
  name: string;
  /** The variable that sets the main port. */
  portVariable: string;
  port: number;
  healthPort: number;
  /** Owns a database (and so has a `migrate` command). */
  database: boolean;
  /** Verifies access tokens itself, against identity's keys (`AUTH_JWKS_URL`). */
  verifiesTokens?: boolean;
}

export const services: readonly ServiceSpec[] = [
  { name: "identity", portVariable: "PORT", port: 8081, healthPort: 9081, database: true },
  {
    name: "circles",
    portVariable: "PORT",
    port: 8082,
    healthPort: 9082,
    database: true,
    verifiesTokens: true,
  },
  {
    name: "content",
    portVariable: "PORT",
    port: 8083,
    healthPort: 9083,
    database: true,
    verifiesTokens: true,
  },
  {
    name: "moderation",
    portVariable: "PORT",
    port: 8084,
    healthPort: 9084,
    database: true,
    verifiesTokens: true,
  },
  {
    name: "realtime",
    portVariable: "PORT",
    port: 8085,
    healthPort: 9085,
    database: false,
    verifiesTokens: true,
  },
  {
    name: "notifier",
    portVariable: "PORT",
    port: 8086,
    healthPort: 9086,
    database: true,
    verifiesTokens: true,
  },
  {
    name: "gateway",
    portVariable: "GATEWAY_PORT",
    port: 8080,
    healthPort: 9080,
    database: false,
    verifiesTokens: true,
  },
];

/** Where identity serves the public keys of the access tokens it issues. */
export const jwksPath = "/.well-known/jwks.json";

/** The gateway's variable for an upstream's URL: `IDENTITY_URL`, … */
export const upstreamVariable = (name: string) => `${name.toUpperCase()}_URL`;
