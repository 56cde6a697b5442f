import { DependencyUnavailableError } from "@kindred/errors";
import { createTestDatabase, type TestDatabase } from "@kindred/testing";
import { sql, type Transaction } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Database, onCommit, TransactionEndedError } from "../src/index.ts";
import { barrier, configFor, recordingLogger } from "./helpers.ts";

interface Schema {
  items: { name: string };
  counters: { id: number; value: number };
}

const logger = recordingLogger();
let testDb: TestDatabase;
let db: Database<Schema>;

beforeAll(async () => {
  testDb = await createTestDatabase("kt_database");
  db = Database.create<Schema>(configFor(testDb.url), { logger });
  await db.kysely.schema
    .createTable("items")
    .addColumn("name", "text", (c) => c.primaryKey())
    .execute();
  await db.kysely.schema
    .createTable("counters")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("value", "integer", (c) => c.notNull())
    .execute();
});

afterAll(async () => {
  await db?.[Symbol.asyncDispose]();
  await testDb?.drop();
});

beforeEach(async () => {
  await db.kysely.deleteFrom("items").execute();
  await db.kysely.deleteFrom("counters").execute();
});

async function itemNames(): Promise<string[]> {
  const rows = await db.kysely.selectFrom("items").select("name").orderBy("name").execute();
  return rows.map((r) => r.name);
}

function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe("transaction", () => {
  it("commits what the function wrote and returns its result", async () => {
    const result = await db.transaction(async (trx) => {
      await trx.insertInto("items").values({ name: "a" }).execute();
      return "done";
    });
    expect(result).toBe("done");
    expect(await itemNames()).toEqual(["a"]);
  });

  it("rolls back when the function throws, and rethrows the error unchanged", async () => {
    const failure = new Error("domain rule broken");
    const outcome = db.transaction(async (trx) => {
      await trx.insertInto("items").values({ name: "b" }).execute();
      throw failure;
    });
    await expect(outcome).rejects.toBe(failure);
    expect(await itemNames()).toEqual([]);
  });

  it("runs at the requested isolation level", async () => {
    const level = await db.transaction(
      async (trx) => {
        const { rows } = await sql<{
          transaction_isolation: string;
        }>`show transaction_isolation`.execute(trx);
        return rows[0]?.transaction_isolation;
      },
      { isolation: "serializable" },
    );
    expect(level).toBe("serializable");
  });
});

describe("onCommit", () => {
  it("runs after the commit, when the data is visible to other connections", async () => {
    const seen: string[][] = [];
    await db.transaction(async (trx) => {
      await trx.insertInto("items").values({ name: "c" }).execute();
      onCommit(trx, async () => {
        seen.push(await itemNames());
      });
    });
    expect(seen).toEqual([["c"]]);
  });

  it("never runs when the transaction rolls back", async () => {
    const callback = vi.fn();
    await expect(
      db.transaction(async (trx) => {
        db.onCommit(trx, callback);
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect(callback).not.toHaveBeenCalled();
  });

  it("logs a failing callback, does not throw, and still runs the next ones", async () => {
    const failure = new Error("relay unreachable");
    const next = vi.fn();
    await db.transaction(async (trx) => {
      onCommit(trx, () => {
        throw failure;
      });
      onCommit(trx, next);
    });
    expect(next).toHaveBeenCalledOnce();
    expect(logger.entries).toContainEqual(
      expect.objectContaining({ level: "error", obj: { err: failure } }),
    );
  });

  it("works on objects derived from the transaction", async () => {
    const callback = vi.fn();
    await db.transaction(async (trx) => {
      onCommit(trx.withSchema("public"), callback);
    });
    expect(callback).toHaveBeenCalledOnce();
  });

  it("runs only the callbacks of the attempt that committed", async () => {
    const callback = vi.fn();
    let tries = 0;
    await db.transaction(
      async (trx) => {
        tries++;
        onCommit(trx, () => callback(tries));
        if (tries === 1) throw pgError("40001", "could not serialize access");
      },
      { idempotent: true },
    );
    expect(callback.mock.calls).toEqual([[2]]);
  });

  it("refuses transactions that Database did not start", async () => {
    await expect(
      db.kysely.transaction().execute(async (trx) => onCommit(trx, () => {})),
    ).rejects.toThrow("onCommit needs a transaction started by Database.transaction");
  });
});

describe("after-end guard", () => {
  it("rejects queries on a transaction that committed", async () => {
    let leaked: Transaction<Schema> | undefined;
    await db.transaction(async (trx) => {
      leaked = trx;
    });
    if (leaked === undefined) throw new Error("the transaction function did not run");
    await expect(leaked.selectFrom("items").selectAll().execute()).rejects.toBeInstanceOf(
      TransactionEndedError,
    );
    await expect(sql`select 1`.execute(leaked)).rejects.toBeInstanceOf(TransactionEndedError);
    expect(() => onCommit(leaked as Transaction<Schema>, () => {})).toThrow(TransactionEndedError);
  });

  it("rejects queries on a transaction that rolled back", async () => {
    let leaked: Transaction<Schema> | undefined;
    await db
      .transaction(async (trx) => {
        leaked = trx;
        throw new Error("roll back");
      })
      .catch(() => undefined);
    if (leaked === undefined) throw new Error("the transaction function did not run");
    await expect(
      leaked.insertInto("items").values({ name: "late" }).execute(),
    ).rejects.toBeInstanceOf(TransactionEndedError);
    expect(await itemNames()).toEqual([]);
  });
});

describe("transient failures", () => {
  it("re-runs an idempotent transaction that lost a serialization conflict", async () => {
    await db.kysely.insertInto("counters").values({ id: 1, value: 0 }).execute();
    const bothHaveRead = barrier(2);
    let attempts = 0;
    const increment = () => {
      let tries = 0;
      return db.transaction(
        async (trx) => {
          attempts++;
          tries++;
          const { value } = await trx
            .selectFrom("counters")
            .select("value")
            .where("id", "=", 1)
            .executeTakeFirstOrThrow();
          if (tries === 1) await bothHaveRead();
          await trx
            .updateTable("counters")
            .set({ value: value + 1 })
            .where("id", "=", 1)
            .execute();
        },
        { idempotent: true, isolation: "serializable" },
      );
    };
    await Promise.all([increment(), increment()]);
    const { value } = await db.kysely
      .selectFrom("counters")
      .select("value")
      .where("id", "=", 1)
      .executeTakeFirstOrThrow();
    expect(value).toBe(2);
    expect(attempts).toBe(3);
  });

  it("re-runs an idempotent transaction whose connection was terminated", async () => {
    let tries = 0;
    const result = await db.transaction(
      async (trx) => {
        tries++;
        await trx
          .insertInto("items")
          .values({ name: `try-${tries}` })
          .execute();
        if (tries === 1) await sql`select pg_terminate_backend(pg_backend_pid())`.execute(trx);
        return tries;
      },
      { idempotent: true },
    );
    expect(result).toBe(2);
    expect(await itemNames()).toEqual(["try-2"]);
  });

  it("tries a non-idempotent transaction once and reports the failure as unavailable", async () => {
    let tries = 0;
    const err = await db
      .transaction(async (trx) => {
        tries++;
        await trx.insertInto("items").values({ name: "once" }).execute();
        throw pgError("40001", "could not serialize access");
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyUnavailableError);
    expect(((err as Error).cause as { code: string }).code).toBe("40001");
    expect(tries).toBe(1);
    expect(await itemNames()).toEqual([]);
  });

  it("does not retry a unique violation, which propagates unchanged", async () => {
    await db.kysely.insertInto("items").values({ name: "taken" }).execute();
    let tries = 0;
    const err = await db
      .transaction(
        async (trx) => {
          tries++;
          await trx.insertInto("items").values({ name: "taken" }).execute();
        },
        { idempotent: true },
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "23505" });
    expect(err).not.toBeInstanceOf(DependencyUnavailableError);
    expect(tries).toBe(1);
  });
});

describe("dispose", () => {
  it("ends the pool and may be called twice", async () => {
    const other = Database.create<Schema>(configFor(testDb.url), { logger });
    await sql`select 1`.execute(other.kysely);
    await other[Symbol.asyncDispose]();
    await other[Symbol.asyncDispose]();
    await expect(sql`select 1`.execute(other.kysely)).rejects.toThrow();
  });

  it("can be disposed without ever connecting", async () => {
    const unused = Database.create<Schema>(configFor(testDb.url), { logger });
    await expect(unused[Symbol.asyncDispose]()).resolves.toBeUndefined();
  });
});
