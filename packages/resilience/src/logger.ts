/**
 * The smallest logger the infrastructure packages need. Structural, so a pino logger (or a test
 * recorder) fits without these packages depending on the logging package.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
