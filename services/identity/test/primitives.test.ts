import { randomBytes } from "node:crypto";
import { DomainError } from "@kindred/errors";
import { describe, expect, it } from "vitest";
import { blindIndex, randomToken, SecretBox, subkey, tokenHash } from "../src/crypto.ts";
import { checkPasswordPolicy, hashPassword, verifyPassword } from "../src/passwords.ts";
import { EmailVault, normalizeEmail } from "../src/pii.ts";

describe("passwords", () => {
  it("hashes with argon2id in PHC form and verifies, also across Unicode compositions", async () => {
    const hash = await hashPassword("café au lait 42");
    expect(hash).toMatch(
      /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/,
    );
    expect(await verifyPassword("café au lait 42", hash)).toBe(true);
    // "é" typed as e + combining accent on another keyboard is the same password.
    expect(await verifyPassword("cafe\u0301 au lait 42", hash)).toBe(true);
    expect(await verifyPassword("cafe au lait 42", hash)).toBe(false);
    expect(await verifyPassword("café au lait 42", "$argon2id$garbage")).toBe(false);
    expect(await hashPassword("café au lait 42")).not.toBe(hash); // salted
  });

  it("refuses short, breached and personal passwords with a reason and a clear message", () => {
    const reasonOf = (password: string, context = {}) => {
      try {
        checkPasswordPolicy(password, context);
        return "ok";
      } catch (err) {
        return (err as DomainError).reason;
      }
    };
    expect(reasonOf("seven77")).toBe("PASSWORD_TOO_SHORT");
    expect(reasonOf("🙂🙂🙂🙂🙂🙂🙂🙂")).toBe("ok"); // length counts characters, not bytes
    for (const common of ["password1", "iloveyou", "qwertyuiop", "Sunshine1"]) {
      expect(reasonOf(common), common).toBe("PASSWORD_BREACHED");
    }
    expect(reasonOf("river.stone@example.org", { email: "river.stone@example.org" })).toBe(
      "PASSWORD_PERSONAL",
    );
    expect(reasonOf("RiverStone1", { displayName: "RiverStone" })).toBe("PASSWORD_PERSONAL");
    expect(reasonOf("a quiet walk by the river", { displayName: "River" })).toBe("ok");
    try {
      checkPasswordPolicy("password1");
    } catch (err) {
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe("invalid_argument");
      expect((err as DomainError).message).not.toContain("password1");
    }
  });
});

describe("encryption at rest", () => {
  it("opens only with the same key and the same context", () => {
    const key = randomBytes(32);
    const box = new SecretBox(key);
    const sealed = box.seal("someone@example.org", "email:user-1");
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(box.openText(sealed, "email:user-1")).toBe("someone@example.org");
    expect(() => box.open(sealed, "email:user-2")).toThrow(); // moved to another row
    expect(() => new SecretBox(randomBytes(32)).open(sealed, "email:user-1")).toThrow();
    const tampered = `${sealed.slice(0, -2)}${sealed.endsWith("AA") ? "BB" : "AA"}`;
    expect(() => box.open(tampered, "email:user-1")).toThrow();
    expect(box.seal("same", "c")).not.toBe(box.seal("same", "c")); // fresh IV each time
  });

  it("derives separate subkeys and a keyed blind index of normalized e-mails", () => {
    const master = randomBytes(32);
    expect(subkey(master, "a").equals(subkey(master, "b"))).toBe(false);
    const vault = new EmailVault(master);
    expect(normalizeEmail("  Ada@Example.ORG ")).toBe("ada@example.org");
    expect(
      vault.index("ada@example.org").equals(vault.index(normalizeEmail("ADA@example.org"))),
    ).toBe(true);
    // Without the key, hashing a guess does not find the index.
    expect(
      blindIndex(randomBytes(32), "ada@example.org").equals(vault.index("ada@example.org")),
    ).toBe(false);
  });

  it("makes 256-bit opaque tokens and stores only their hash", () => {
    const token = randomToken();
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(tokenHash(token)).toHaveLength(32);
    expect(tokenHash(token).toString("base64url")).not.toBe(token);
  });
});
