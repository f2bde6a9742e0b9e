/**
 * What may be sent as a header: names that are RFC 9110 tokens (lower case,
 * as the client keeps them) and values without CR, LF or NUL, so that no
 * caller-supplied text can split a request (RELIABILITY 10).
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

/** A header name as the client keeps it: a token, lower case. */
const headerName = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/**
 * Why a set of headers may not be sent (the first offender, in order), or
 * `undefined` when every name is a lower-case token and no value holds CR,
 * LF or NUL.
 *
 * @category predicates
 * @since 0.1.0
 */
export const headerProblem = (headers: Readonly<Record<string, string>>): string | undefined => {
  for (const [name, value] of Object.entries(headers)) {
    if (unsafeValue.test(value) || !headerName.test(name)) {
      return `the header ${JSON.stringify(name.slice(0, 64))} has a CR, LF or NUL, or is not a header name`
    }
  }
  return undefined
}

/**
 * Whether a call's own headers can be merged in place: string values without
 * CR, LF or NUL under valid names. Anything else (an offender, a value that is
 * not a string, a `__proto__` key) takes the general path, which reports or
 * normalises it.
 *
 * @category predicates
 * @since 0.1.0
 */
export const plainHeaders = (headers: Readonly<Record<string, string>>): boolean => {
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    const lower = name.toLowerCase()
    if (typeof value !== "string" || unsafeValue.test(value) || !headerName.test(lower) || lower === "__proto__") {
      return false
    }
  }
  return true
}
