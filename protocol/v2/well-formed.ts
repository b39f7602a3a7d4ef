/**
 * UTF-16 strings that cannot be encoded as UTF-8: a lone surrogate (JSON allows `"\ud800"`).
 * An encoder would silently turn it into U+FFFD, so the gateway refuses it instead (the same rule
 * as v1). A regular expression because Node 20's TypeScript lib has no `String#isWellFormed`.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export const isWellFormedText = (text: string): boolean => !LONE_SURROGATE.test(text);
