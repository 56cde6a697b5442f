/**
 * Puts a secret password into a connection URL. Needed because pg lets the URL win over a
 * `password` option; pg decodes the password with `decodeURIComponent`, hence the encoding.
 */
export function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** Quotes an SQL identifier (a database name), doubling embedded quotes. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
