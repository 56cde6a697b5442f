export { decodeKeyPosition, encodeKeyPosition, type KeyPosition } from "./key-positions.ts";
export { type PageOf, type PageSizeLimits, pageOf, pageSizeOf } from "./page.ts";
export { type KeysetPosition, PageTokens } from "./page-tokens.ts";
