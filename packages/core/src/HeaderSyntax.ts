/**
 * What may be sent as a header: names that are RFC 9110 tokens (lower case,
 * as the client keeps them), values that are RFC 9110 field values (no
 * control character but tab, nothing above U+00FF), so that no
 * caller-supplied text can split a request (RELIABILITY 10), and none of
 * the headers undici refuses to send (`transfer-encoding`, `upgrade`,
 * `expect`, `keep-alive`, a `connection` that is not a list of tokens), so
 * that a request undici would refuse is refused before it is sent.
 *
 * @since 0.1.0
 */

/**
 * A value that would end the header line early, or end the string for C code.
 *
 * @category predicates
 * @since 0.1.0
 */
export const unsafeValue = /[\r\n\0]/

/**
 * A character not allowed in a header value (RFC 9110 field-value, as undici
 * checks it): a control character other than tab (CR, LF and NUL included),
 * DEL, or anything above U+00FF.
 *
 * @category predicates
 * @since 0.1.0
 */
export const invalidValue = /[^\t\x20-\x7e\x80-\xff]/

/**
 * An RFC 9110 token, in either case: what a method or a header name as
 * given must be.
 *
 * @category predicates
 * @since 0.1.0
 */
export const token = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * What `invalidValue` finds, for messages: `the header "x" has <this>`.
 *
 * @category constants
 * @since 0.1.0
 */
export const invalidValueText =
  "a character not allowed in a header value (a control character other than tab, such as CR, LF or NUL, or one above U+00FF)"

/** A header name as the client keeps it: a token, lower case. */
const headerName = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/** Headers undici refuses to send as given (lower case), with the reason shown. */
const refusedNames: ReadonlyMap<string, string> = new Map([
  ["transfer-encoding", "the transport sets transfer-encoding itself from the body"],
  ["upgrade", "protocol upgrades are not supported"],
  ["expect", "expect (100-continue) is not supported by the transport"],
  ["keep-alive", "the transport manages keep-alive itself"]
])

/** Why a header whose value has valid characters still may not be sent, or `undefined`. */
const refusedHeader = (name: string, value: string): string | undefined => {
  const reason = refusedNames.get(name)
  if (reason !== undefined) return `the header ${JSON.stringify(name)} cannot be sent: ${reason}`
  if (name === "connection" && !value.split(",").every((token) => headerName.test(token.trim().toLowerCase()))) {
    return "the header \"connection\" must be a comma-separated list of tokens"
  }
  return undefined
}

/**
 * Why a set of headers may not be sent (the first offender, in order), or
 * `undefined` when every name is a lower-case token, every value a field
 * value (see `invalidValue`), and none is a header undici refuses.
 *
 * @category predicates
 * @since 0.1.0
 */
export const headerProblem = (headers: Readonly<Record<string, string>>): string | undefined => {
  for (const [name, value] of Object.entries(headers)) {
    if (!headerName.test(name)) {
      return `the header ${JSON.stringify(name.slice(0, 64))} is not a header name`
    }
    if (typeof value !== "string" || invalidValue.test(value)) {
      return `the header ${JSON.stringify(name.slice(0, 64))} has ${invalidValueText}`
    }
    const refused = refusedHeader(name, value)
    if (refused !== undefined) return refused
  }
  return undefined
}

/**
 * Whether a call's own headers can be merged in place: field values (see
 * `invalidValue`) under valid names, none of them a header undici refuses.
 * Anything else (an offender, a value that is not a string, a `__proto__`
 * key) takes the general path, which reports or normalises it.
 *
 * @category predicates
 * @since 0.1.0
 */
export const plainHeaders = (headers: Readonly<Record<string, string>>): boolean => {
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    const lower = name.toLowerCase()
    if (
      typeof value !== "string" || invalidValue.test(value) || !headerName.test(lower) || lower === "__proto__" ||
      refusedNames.has(lower) || lower === "connection"
    ) {
      return false
    }
  }
  return true
}
