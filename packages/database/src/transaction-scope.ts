import type { Logger } from "@kindred/resilience";
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  Transaction,
  UnknownRow,
} from "kysely";

/** A query was issued on a transaction after it committed or rolled back. */
export class TransactionEndedError extends Error {
  override readonly name = "TransactionEndedError";

  constructor() {
    super(
      "query issued on a transaction that has already ended (committed or rolled back): " +
        "await every query inside the transaction function, or use db.kysely outside it",
    );
  }
}

export type CommitCallback = () => void | Promise<void>;

/**
 * One attempt of `Database.transaction`, attached to its `Transaction` as a Kysely plugin: the
 * plugin travels with every object derived from the transaction (`withSchema`, `withPlugin`),
 * so both the after-end guard and `onCommit` work on whatever the caller passes around.
 * Kysely's own guard misses a transaction whose COMMIT or ROLLBACK failed, whose connection
 * is already back in the pool; this one does not.
 */
export class TransactionScope implements KyselyPlugin {
  #ended = false;
  readonly #callbacks: CommitCallback[] = [];

  transformQuery({ node }: PluginTransformQueryArgs): RootOperationNode {
    if (this.#ended) throw new TransactionEndedError();
    return node;
  }

  async transformResult({ result }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return result;
  }

  addCommitCallback(fn: CommitCallback): void {
    if (this.#ended) throw new TransactionEndedError();
    this.#callbacks.push(fn);
  }

  end(): void {
    this.#ended = true;
  }

  /** Runs the callbacks in order; one that fails is logged and does not stop the others. */
  async runCommitCallbacks(logger: Logger): Promise<void> {
    for (const fn of this.#callbacks) {
      try {
        await fn();
      } catch (err) {
        logger.error({ err }, "onCommit callback failed");
      }
    }
  }

  static of(trx: Transaction<unknown>): TransactionScope | undefined {
    return trx.getExecutor().plugins.find((p) => p instanceof TransactionScope);
  }
}

/**
 * Runs `fn` after the transaction commits (never if it rolls back), e.g. to wake the outbox
 * relay. For code that holds only the transaction; `Database.transaction` awaits the callbacks
 * before it returns, and logs (does not throw) their errors: the data is committed either way.
 */
export function onCommit<DB>(trx: Transaction<DB>, fn: CommitCallback): void {
  const scope = TransactionScope.of(trx as Transaction<unknown>);
  if (scope === undefined) {
    throw new Error("onCommit needs a transaction started by Database.transaction");
  }
  scope.addCommitCallback(fn);
}
