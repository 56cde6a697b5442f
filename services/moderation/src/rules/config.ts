import { deepFreeze } from "@kindred/config";
import { z } from "zod";
import { unsafePatternReason } from "./safe-regex.ts";
import { compileTerm } from "./term-matcher.ts";
import { outcomes, reasonNames, severities } from "./types.ts";

/**
 * The rules file: JSON, validated by `rulesConfigSchema`. Every rule has the same four fields,
 * `id` (unique in the file, shown to moderators), `reason`, `severity` and `outcome` (allow:
 * record only; flag: open a case, content stays visible; hide: hidden until reviewed), and an
 * optional `description`. Every section is optional; unknown fields are errors (a typo must not
 * silently disable a rule).
 *
 * {
 *   "version": 1,
 *   "banks": [{ ...rule, "terms": ["kill myself", "suicide"] }],
 *   "regexes": [{ ...rule, "pattern": "\\d{3}[ -]?\\d{4}", "flags": "i", "normalized": false }],
 *   "links": {
 *     "deniedDomains": [{ ...rule, "domains": ["bit.ly"] }],   // a link to it or a subdomain
 *     "tooMany": { ...rule, "max": 3 }                          // more than max links
 *   },
 *   "spam": {
 *     "burst": { ...rule, "max": 5, "windowSeconds": 60 },      // more than max items, this one included
 *     "duplicates": { ...rule, "max": 2, "windowSeconds": 3600, "minChars": 20 }
 *   },
 *   "newAccounts": {
 *     "maxAgeSeconds": 86400,          // younger than this is new
 *     "links": { ...rule },            // a new account posts a link
 *     "items": { ...rule }             // a new account posts anything
 *   }
 * }
 *
 * Terms are matched as words after normalization (normalize.ts, tokens.ts, term-matcher.ts).
 * A regex runs on the body as written, or with `normalized: true` on the normalized text
 * (lowercase, accents and invisible characters removed, lookalike letters folded); see
 * safe-regex.ts for the limits on patterns. Duplicates count items whose normalized text is the
 * same (the fingerprint), only for texts of at least `minChars` normalized letters and digits.
 */

const ruleId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "must be 1 to 64 of a-z, 0-9, '.', '_' and '-'");

const ruleFields = {
  id: ruleId,
  reason: z.enum(reasonNames),
  severity: z.enum(severities),
  outcome: z.enum(outcomes),
  description: z.string().max(500).optional(),
};

const rule = z.strictObject(ruleFields);

const bank = z.strictObject({
  ...ruleFields,
  terms: z
    .array(
      z
        .string()
        .max(200)
        .refine((term) => compileTerm(term) !== undefined, "must contain a letter or digit"),
    )
    .min(1)
    .max(10_000),
});

const regex = z
  .strictObject({
    ...ruleFields,
    pattern: z.string().min(1),
    flags: z.string().default(""),
    normalized: z.boolean().default(false),
  })
  .superRefine((value, ctx) => {
    const problem = unsafePatternReason(value.pattern, value.flags);
    if (problem) ctx.addIssue({ code: "custom", message: problem, path: ["pattern"] });
  });

const domain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]+)$/,
    'must be a domain name such as "example.com"',
  );

const seconds = z
  .number()
  .int()
  .min(1)
  .max(30 * 86_400);

const links = z.strictObject({
  deniedDomains: z
    .array(z.strictObject({ ...ruleFields, domains: z.array(domain).min(1).max(10_000) }))
    .default([]),
  tooMany: z.strictObject({ ...ruleFields, max: z.number().int().min(0) }).optional(),
});

const spam = z.strictObject({
  burst: z
    .strictObject({ ...ruleFields, max: z.number().int().min(1), windowSeconds: seconds })
    .optional(),
  duplicates: z
    .strictObject({
      ...ruleFields,
      max: z.number().int().min(1),
      windowSeconds: seconds,
      minChars: z.number().int().min(1).default(1),
    })
    .optional(),
});

const newAccounts = z.strictObject({
  maxAgeSeconds: z
    .number()
    .int()
    .min(1)
    .max(365 * 86_400),
  links: rule.optional(),
  items: rule.optional(),
});

export const rulesConfigSchema = z
  .strictObject({
    version: z.literal(1),
    description: z.string().optional(),
    banks: z.array(bank).default([]),
    regexes: z.array(regex).default([]),
    links: links.default({ deniedDomains: [] }),
    spam: spam.default({}),
    newAccounts: newAccounts.optional(),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    for (const { id, path } of ruleIds(config)) {
      if (seen.has(id)) {
        ctx.addIssue({ code: "custom", message: `repeats the rule id "${id}"`, path });
      }
      seen.add(id);
    }
  });

export type RulesConfig = z.output<typeof rulesConfigSchema>;
export type RuleFields = z.output<typeof rule>;

/** Every rule of the file with the path of its id. */
function ruleIds(config: RulesConfig): { id: string; path: (string | number)[] }[] {
  const ids: { id: string; path: (string | number)[] }[] = [];
  config.banks.forEach((b, i) => {
    ids.push({ id: b.id, path: ["banks", i, "id"] });
  });
  config.regexes.forEach((r, i) => {
    ids.push({ id: r.id, path: ["regexes", i, "id"] });
  });
  config.links.deniedDomains.forEach((d, i) => {
    ids.push({ id: d.id, path: ["links", "deniedDomains", i, "id"] });
  });
  const single: [string, { id: string } | undefined][] = [
    ["links.tooMany", config.links.tooMany],
    ["spam.burst", config.spam.burst],
    ["spam.duplicates", config.spam.duplicates],
    ["newAccounts.links", config.newAccounts?.links],
    ["newAccounts.items", config.newAccounts?.items],
  ];
  for (const [where, r] of single) if (r) ids.push({ id: r.id, path: [...where.split("."), "id"] });
  return ids;
}

export interface RulesConfigIssue {
  /** Where in the file, such as `banks[0].terms[2]`; `(file)` for the file as a whole. */
  path: string;
  message: string;
}

/** The rules file cannot be used; `message` names every bad field. */
export class RulesConfigError extends Error {
  override readonly name = "RulesConfigError";
  readonly issues: readonly RulesConfigIssue[];

  constructor(source: string, issues: readonly RulesConfigIssue[]) {
    const list = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
    super(`invalid rules in ${source}: ${list}`);
    this.issues = issues;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    out += typeof key === "number" ? `[${key}]` : `${out === "" ? "" : "."}${String(key)}`;
  }
  return out === "" ? "(file)" : out;
}

/** Validates parsed JSON; throws `RulesConfigError`. The result is frozen. */
export function parseRulesConfig(raw: unknown, source = "rules"): RulesConfig {
  const result = rulesConfigSchema.safeParse(raw);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({
      path: formatPath(i.path),
      message: i.message,
    }));
    throw new RulesConfigError(source, issues);
  }
  return deepFreeze(result.data);
}

/** Parses and validates the text of a rules file; throws `RulesConfigError`. */
export function parseRulesJson(text: string, source = "rules"): RulesConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RulesConfigError(source, [
      { path: "(file)", message: `is not valid JSON: ${(err as Error).message}` },
    ]);
  }
  return parseRulesConfig(raw, source);
}
