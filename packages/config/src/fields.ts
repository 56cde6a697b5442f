import { z } from "zod";

/**
 * Builders for environment variables. Every field reads an optional string (an empty string
 * counts as unset), applies a default when one is given, and reports a problem in words an
 * operator can act on — the variable's name is added by `loadConfig`.
 */

type Field<T> = z.ZodType<T, string | undefined>;

interface FieldOptions<T> {
  /** Used when the variable is unset; omit to make the variable required. */
  default?: T | undefined;
}

function field<T>(
  parse: (raw: string) => { ok: true; value: T } | { ok: false; message: string },
  options: FieldOptions<T>,
): Field<T> {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T => {
      if (raw === undefined || raw === "") {
        if (options.default !== undefined) return options.default;
        ctx.addIssue({ code: "custom", message: "is required" });
        return z.NEVER;
      }
      const result = parse(raw);
      if (result.ok) return result.value;
      ctx.addIssue({ code: "custom", message: result.message });
      return z.NEVER;
    }) as unknown as Field<T>;
}

/** An optional variable: `undefined` when unset. */
function optionalField<T>(inner: (raw: string) => ReturnType<Parameters<typeof field<T>>[0]>) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T | undefined => {
      if (raw === undefined || raw === "") return undefined;
      const result = inner(raw);
      if (result.ok) return result.value;
      ctx.addIssue({ code: "custom", message: result.message });
      return z.NEVER;
    }) as unknown as Field<T | undefined>;
}

const quoted = (raw: string) => JSON.stringify(raw.length > 80 ? `${raw.slice(0, 77)}...` : raw);

function parseString(min: number) {
  return (raw: string) =>
    raw.length >= min
      ? ({ ok: true, value: raw } as const)
      : ({ ok: false, message: `must be at least ${min} characters long` } as const);
}

function parseInteger(min: number, max: number) {
  return (raw: string) => {
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      return {
        ok: false,
        message: `must be an integer from ${min} to ${max}, got ${quoted(raw)}`,
      } as const;
    }
    return { ok: true, value } as const;
  };
}

/** URLs may hold credentials, so a bad URL is never echoed back, only its scheme. */
function parseUrl(protocols: readonly string[]) {
  return (raw: string) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return { ok: false, message: "must be a valid URL" } as const;
    }
    if (!protocols.includes(url.protocol)) {
      return {
        ok: false,
        message: `must be a URL with scheme ${protocols.map((p) => p.replace(/:$/, "")).join(" or ")}, got ${quoted(url.protocol.replace(/:$/, ""))}`,
      } as const;
    }
    return { ok: true, value: raw } as const;
  };
}

/** A 256-bit key in base64; never echoed, whatever is wrong with it. */
function parseKey256(raw: string) {
  const value = raw.trim();
  const bytes = Buffer.from(value, "base64");
  return bytes.length === 32 && bytes.toString("base64") === value
    ? ({ ok: true, value } as const)
    : ({
        ok: false,
        message: "must be exactly 32 bytes in base64 (openssl rand -base64 32)",
      } as const);
}

const truthy = new Set(["true", "1", "yes", "on"]);
const falsy = new Set(["false", "0", "no", "off"]);

function parseBool(raw: string) {
  const v = raw.trim().toLowerCase();
  if (truthy.has(v)) return { ok: true, value: true } as const;
  if (falsy.has(v)) return { ok: true, value: false } as const;
  return { ok: false, message: `must be true or false, got ${quoted(raw)}` } as const;
}

export const env = {
  string: (options: FieldOptions<string> & { min?: number } = {}) =>
    field(parseString(options.min ?? 1), options),
  optionalString: () => optionalField(parseString(1)),
  /** A string matching `pattern`; `what` says in words what is expected. */
  matching: (pattern: RegExp, what: string, options: FieldOptions<string> = {}) =>
    field<string>(
      (raw) =>
        pattern.test(raw)
          ? { ok: true, value: raw }
          : { ok: false, message: `must be ${what}, got ${quoted(raw)}` },
      options,
    ),
  /** A secret value: never echoed in error messages. Pair with `secrets` in `loadConfig` for `_FILE`. */
  secret: (options: { min?: number } = {}) => field(parseString(options.min ?? 1), {}),
  optionalSecret: () => optionalField(parseString(1)),
  /**
   * A 256-bit secret key in base64 (`openssl rand -base64 32`), kept as the base64 string. Give
   * `default` only outside production (a development key anyone can read): in production the
   * variable is then required. Pair with `secrets` for `_FILE`.
   */
  key256: (options: FieldOptions<string> = {}) => field(parseKey256, options),
  int: (options: FieldOptions<number> & { min?: number; max?: number } = {}) =>
    field(
      parseInteger(options.min ?? Number.MIN_SAFE_INTEGER, options.max ?? Number.MAX_SAFE_INTEGER),
      options,
    ),
  /** A TCP port; 0 lets the OS pick one (tests). */
  port: (options: FieldOptions<number> = {}) => field(parseInteger(0, 65_535), options),
  /** A duration in milliseconds (a non-negative integer). */
  millis: (options: FieldOptions<number> & { max?: number } = {}) =>
    field(parseInteger(0, options.max ?? 86_400_000), options),
  bool: (options: FieldOptions<boolean> = {}) => field(parseBool, options),
  url: (protocols: readonly string[], options: FieldOptions<string> = {}) =>
    field(parseUrl(protocols), options),
  /** One URL or several, comma-separated (a cluster's seed servers). */
  urlList: (protocols: readonly string[], options: FieldOptions<string[]> = {}) =>
    field<string[]>((raw) => {
      const urls = raw.split(",").map((s) => s.trim());
      for (const url of urls) {
        const result = parseUrl(protocols)(url);
        if (!result.ok) return result;
      }
      return { ok: true, value: urls };
    }, options),
  optionalUrl: (protocols: readonly string[]) => optionalField(parseUrl(protocols)),
  oneOf: <const T extends string>(values: readonly T[], options: FieldOptions<T> = {}) =>
    field<T>(
      (raw) =>
        (values as readonly string[]).includes(raw)
          ? { ok: true, value: raw as T }
          : { ok: false, message: `must be one of ${values.join(", ")}, got ${quoted(raw)}` },
      options,
    ),
};
