import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseRulesJson, RulesConfigError } from "./config.ts";
import { RulesEngine } from "./engine.ts";

/** pino's call shape; only these three levels are used. */
export interface RulesLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RulesReload {
  /**
   * loaded: the new content is in use; unchanged: the content is the one in use; rejected: the
   * file is invalid or unreadable, and the previous rules stay in use.
   */
  status: "loaded" | "unchanged" | "rejected";
  /** sha256 (hex) of the content read; undefined when the file could not be read. */
  hash: string | undefined;
  error?: Error;
}

export interface RulesSourceOptions {
  path: string;
  logger: RulesLogger;
  /** How often the content is read again, in case a change was not seen; 0: never. 5 000 by default. */
  pollIntervalMs?: number;
  /** Watch the file's directory for changes; true by default. */
  watch?: boolean;
  /** Quiet time after a change is seen before reading, so a file is read once written. 50 by default. */
  debounceMs?: number;
  /** Told of every new content: loaded or rejected (each rejected content once). */
  onReload?: (result: RulesReload) => void;
}

interface Loaded {
  engine: RulesEngine;
  hash: string;
  loadedAt: Date;
  generation: number;
}

/**
 * The rules file at a path, reloaded without a restart. Kubernetes updates a mounted ConfigMap by
 * swapping a symlink in the directory, so the directory is watched (any event there triggers a
 * read of the path) and the content is also polled as a fallback; a read whose content hash
 * equals the rules in use changes nothing. An invalid file keeps the rules in use and is
 * reported once per content through the logger and `onReload`. `reload()` reads at once (tests,
 * SIGHUP); reloads run one at a time, and `whenIdle()` waits for the last one.
 */
export class RulesSource implements AsyncDisposable {
  readonly path: string;
  readonly #options: RulesSourceOptions;
  #loaded: Loaded;
  #rejected: { key: string; error: Error } | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;

  private constructor(options: RulesSourceOptions, loaded: Loaded) {
    this.path = options.path;
    this.#options = options;
    this.#loaded = loaded;
  }

  /** Loads the file (throws `RulesConfigError` when it is unreadable or invalid) and watches it. */
  static async open(options: RulesSourceOptions): Promise<RulesSource> {
    const text = await readRules(options.path);
    const engine = new RulesEngine(parseRulesJson(text, options.path));
    const loaded = { engine, hash: sha256(text), loadedAt: new Date(), generation: 1 };
    const source = new RulesSource(options, loaded);
    options.logger.info({ path: options.path, hash: loaded.hash }, "rules loaded");
    source.#start();
    return source;
  }

  current(): RulesEngine {
    return this.#loaded.engine;
  }

  /** sha256 (hex) of the file content in use. */
  get hash(): string {
    return this.#loaded.hash;
  }

  /** 1 for the first content loaded, one more for each new content loaded since. */
  get generation(): number {
    return this.#loaded.generation;
  }

  get loadedAt(): Date {
    return this.#loaded.loadedAt;
  }

  reload(): Promise<RulesReload> {
    const next = this.#queue.then(() => this.#load());
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Resolves when no reload is running or queued. */
  async whenIdle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.#queue;
      await seen;
    } while (seen !== this.#queue);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#watcher?.close();
    this.#watcher = undefined;
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
    this.#poll = undefined;
    await this.whenIdle();
  }

  #start() {
    const { pollIntervalMs = 5_000, watch: watching = true } = this.#options;
    if (pollIntervalMs > 0) {
      this.#poll = setInterval(() => void this.reload(), pollIntervalMs);
      this.#poll.unref();
    }
    if (!watching) return;
    try {
      this.#watcher = watch(dirname(this.path), { persistent: false }, () => this.#changed());
      this.#watcher.on("error", (err) => {
        this.#options.logger.warn(
          { path: this.path, err },
          "rules directory watch failed; polling",
        );
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#options.logger.warn({ path: this.path, err }, "rules directory not watched; polling");
    }
  }

  #changed() {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.reload(), this.#options.debounceMs ?? 50);
    this.#debounce.unref();
  }

  async #load(): Promise<RulesReload> {
    const { logger } = this.#options;
    let text: string;
    try {
      text = await readRules(this.path);
    } catch (err) {
      return this.#reject((err as RulesConfigError).message, undefined, err as Error);
    }
    const hash = sha256(text);
    if (hash === this.#loaded.hash) {
      this.#rejected = undefined;
      return { status: "unchanged", hash };
    }
    let engine: RulesEngine;
    try {
      engine = new RulesEngine(parseRulesJson(text, this.path));
    } catch (err) {
      return this.#reject(hash, hash, err as Error);
    }
    const generation = this.#loaded.generation + 1;
    this.#loaded = { engine, hash, loadedAt: new Date(), generation };
    this.#rejected = undefined;
    logger.info({ path: this.path, hash, generation }, "rules reloaded");
    return this.#tell({ status: "loaded", hash });
  }

  /** Reports a rejected content once (`key` tells contents apart) and keeps the rules in use. */
  #reject(key: string, hash: string | undefined, error: Error): RulesReload {
    const result: RulesReload = { status: "rejected", hash, error };
    if (this.#rejected?.key === key) return { ...result, error: this.#rejected.error };
    this.#rejected = { key, error };
    this.#options.logger.error(
      { path: this.path, hash, inUse: this.#loaded.hash, err: error.message },
      "rules file rejected; previous rules kept",
    );
    return this.#tell(result);
  }

  #tell(result: RulesReload): RulesReload {
    try {
      this.#options.onReload?.(result);
    } catch (err) {
      this.#options.logger.warn({ path: this.path, err }, "rules onReload callback failed");
    }
    return result;
  }
}

async function readRules(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new RulesConfigError(path, [{ path: "(file)", message: `cannot be read (${code})` }]);
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
