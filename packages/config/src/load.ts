import { readFileSync } from "node:fs";
import type { z } from "zod";

export interface ConfigIssue {
  variable: string;
  message: string;
}

/**
 * The configuration cannot be used. `message` names every bad variable in one line; it is safe
 * to print (no values of secrets), and a process should exit on it without a stack trace.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    super(`invalid configuration: ${issues.map((i) => `${i.variable} ${i.message}`).join("; ")}`);
    this.issues = issues;
  }
}

export interface LoadOptions {
  /**
   * Variables that hold secrets. Each may instead be given as `<NAME>_FILE`, the path of a
   * mounted file whose content (without a trailing newline) is the value. Setting both is an
   * error, so a stale value cannot silently win.
   */
  secrets?: readonly string[];
  /** Reads a secret file; tests replace it. */
  readFile?: (path: string) => string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Step one: the raw strings, with `_FILE` secrets resolved. */
function readRaw(shape: z.ZodRawShape, env: Env, options: LoadOptions, issues: ConfigIssue[]) {
  const read = options.readFile ?? ((path: string) => readFileSync(path, "utf8"));
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(shape)) raw[name] = env[name];
  for (const name of options.secrets ?? []) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === "") continue;
    if (env[name] !== undefined && env[name] !== "") {
      issues.push({ variable: name, message: `and ${name}_FILE are both set; set only one` });
      continue;
    }
    try {
      raw[name] = read(file).replace(/\r?\n$/, "");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
      issues.push({
        variable: `${name}_FILE`,
        message: `names a file that cannot be read (${code})`,
      });
    }
  }
  return raw;
}

/**
 * Reads, validates and freezes a configuration whose schema keys are environment variable
 * names. Throws one `ConfigError` listing every problem, in schema order.
 */
export function loadConfig<S extends z.ZodObject>(
  schema: S,
  env: Env,
  options: LoadOptions = {},
): Readonly<z.output<S>> {
  const issues: ConfigIssue[] = [];
  const raw = readRaw(schema.shape, env, options, issues);
  const result = schema.safeParse(raw);
  const order = Object.keys(schema.shape);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? "(config)");
      issues.push({ variable, message: issue.message });
    }
  }
  if (issues.length > 0) {
    const rank = (v: string) => {
      const i = order.indexOf(v.replace(/_FILE$/, ""));
      return i === -1 ? order.length : i;
    };
    throw new ConfigError([...issues].sort((a, b) => rank(a.variable) - rank(b.variable)));
  }
  return deepFreeze(result.data as z.output<S>);
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
