import { createPrivateKey, type KeyObject } from "node:crypto";
import { z } from "zod";

/** The fields of a Google service-account key file that FCM's OAuth flow needs. */
const serviceAccountSchema = z.object({
  type: z.literal("service_account"),
  project_id: z.string().min(1),
  private_key_id: z.string().min(1),
  private_key: z.string().min(1),
  client_email: z.email(),
  token_uri: z.url({ protocol: /^https?$/ }),
});

export interface FcmServiceAccount {
  projectId: string;
  /** Sent as the assertion's `kid`, so Google knows which of the account's keys signed it. */
  privateKeyId: string;
  privateKey: KeyObject;
  clientEmail: string;
  tokenUri: string;
}

/**
 * Parses a service-account key file (the JSON Google's console downloads). Throws an error that
 * names every missing or bad field, and never quotes the file: it holds the private key.
 */
export function parseServiceAccount(json: string): FcmServiceAccount {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    // JSON.parse quotes the text around the error, which may be the private key.
    throw new Error("FCM service-account JSON is not valid JSON");
  }
  const parsed = serviceAccountSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => describeIssue(issue, raw));
    throw new Error(`FCM service-account JSON is invalid: ${problems.join("; ")}`);
  }
  const account = parsed.data;
  requireSecureUrl(account.token_uri, "token_uri");
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: account.private_key, format: "pem" });
  } catch {
    throw new Error("FCM service-account JSON is invalid: private_key is not a PEM private key");
  }
  if (privateKey.asymmetricKeyType !== "rsa") {
    throw new Error("FCM service-account JSON is invalid: private_key is not an RSA key");
  }
  return {
    projectId: account.project_id,
    privateKeyId: account.private_key_id,
    privateKey,
    clientEmail: account.client_email,
    tokenUri: account.token_uri,
  };
}

/**
 * Credentials (the assertion, access tokens) only travel over HTTPS; plain HTTP is allowed to a
 * loopback address, where the tests' fake listens.
 */
export function requireSecureUrl(value: string, name: string): void {
  const url = new URL(value);
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new Error(`FCM ${name} must be an https URL (http only on a loopback address)`);
  }
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const field = issue.path.map(String).join(".");
  if (field === "") return "expected a JSON object";
  const present =
    typeof raw === "object" &&
    raw !== null &&
    (raw as Record<string, unknown>)[field] !== undefined;
  return present ? `field ${field}: ${issue.message}` : `missing field ${field}`;
}
