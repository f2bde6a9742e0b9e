/**
 * A parser for HTTP Structured Fields (RFC 9651, which obsoletes RFC 8941),
 * the subset the IETF rate-limit drafts need: lists and dictionaries of items
 * with parameters.
 *
 * Numbers, strings, tokens and booleans are read; byte sequences and dates
 * are checked and kept as opaque markers; display strings are not supported,
 * so a field holding one is malformed. A malformed field is `undefined`, to be
 * ignored as a whole, as RFC 9651 requires: nothing throws out of this module.
 */

/** A bare item; byte sequences and dates are kept as opaque markers. */
export type BareItem =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "string" | "token"; readonly value: string }
  | { readonly kind: "boolean"; readonly value: boolean }
  | { readonly kind: "other" }

/** An item with its parameters, or an inner list (which the drafts never use). */
export interface Member {
  readonly value: BareItem | "inner-list"
  readonly params: ReadonlyMap<string, BareItem>
}

/**
 * Parses the lines of a list field, or `undefined` when they are empty or
 * malformed.
 */
export const parseList = (lines: ReadonlyArray<string>): Array<Member> | undefined =>
  parseWith(lines, (parser) => parser.list())

/**
 * Parses the lines of a dictionary field, or `undefined` when they are empty
 * or malformed.
 */
export const parseDictionary = (lines: ReadonlyArray<string>): Map<string, Member> | undefined =>
  parseWith(lines, (parser) => parser.dictionary())

/** Runs `read` over the joined non-empty lines; `undefined` when there are none or they are malformed. */
const parseWith = <A>(lines: ReadonlyArray<string>, read: (parser: Parser) => A): A | undefined => {
  const present = lines.filter((line) => line !== "")
  if (present.length === 0) return undefined
  try {
    // RFC 9651, section 4.2: repeated field lines are joined with a comma.
    return read(parser(present.join(",")))
  } catch {
    return undefined
  }
}

/** Thrown inside the parser only; caught by `parseWith`, never escapes. */
class Malformed extends Error {}

const fail = (): never => {
  throw new Malformed()
}

const isDigit = (c: string): boolean => c >= "0" && c <= "9"
const isLcAlpha = (c: string): boolean => c >= "a" && c <= "z"
const isAlpha = (c: string): boolean => isLcAlpha(c) || (c >= "A" && c <= "Z")
const tokenChars = /^[!#$%&'*+\-.^_`|~0-9A-Za-z:/]$/
const keyChars = /^[a-z0-9_\-.*]$/
const base64Chars = /^[A-Za-z0-9+/=]$/

type Parser = ReturnType<typeof parser>

/** A parser over one field value; every method advances `position` or throws `Malformed`. */
const parser = (text: string) => {
  let position = 0
  const peek = (): string => text[position] ?? ""
  const skipSpaces = (): void => {
    while (peek() === " ") position++
  }
  const skipOws = (): void => {
    while (peek() === " " || peek() === "\t") position++
  }

  const key = (): string => {
    const start = position
    if (!isLcAlpha(peek()) && peek() !== "*") fail()
    position++
    while (position < text.length && keyChars.test(peek())) position++
    return text.slice(start, position)
  }

  const number = (): BareItem => {
    const start = position
    let sign = 1
    if (peek() === "-") {
      sign = -1
      position++
    }
    if (!isDigit(peek())) fail()
    let integerDigits = 0
    while (isDigit(peek())) {
      position++
      integerDigits++
    }
    if (peek() !== ".") {
      if (integerDigits > 15) fail()
      return { kind: "number", value: sign * Number(text.slice(sign < 0 ? start + 1 : start, position)) }
    }
    if (integerDigits > 12) fail()
    position++
    let fractionDigits = 0
    while (isDigit(peek())) {
      position++
      fractionDigits++
    }
    if (fractionDigits < 1 || fractionDigits > 3) fail()
    return { kind: "number", value: sign * Number(text.slice(sign < 0 ? start + 1 : start, position)) }
  }

  const string = (): BareItem => {
    position++
    let out = ""
    for (;;) {
      const c = peek()
      if (c === "") fail()
      position++
      if (c === "\\") {
        const next = peek()
        if (next !== "\"" && next !== "\\") fail()
        out += next
        position++
      } else if (c === "\"") {
        return { kind: "string", value: out }
      } else {
        const code = c.charCodeAt(0)
        if (code < 0x20 || code > 0x7e) fail()
        out += c
      }
    }
  }

  const token = (): BareItem => {
    const start = position
    position++
    while (position < text.length && tokenChars.test(peek())) position++
    return { kind: "token", value: text.slice(start, position) }
  }

  const bytes = (): BareItem => {
    position++
    while (peek() !== ":") {
      if (!base64Chars.test(peek())) fail()
      position++
    }
    position++
    return { kind: "other" }
  }

  const bareItem = (): BareItem => {
    const c = peek()
    if (c === "-" || isDigit(c)) return number()
    if (c === "\"") return string()
    if (c === ":") return bytes()
    if (c === "?") {
      position++
      const value = peek()
      if (value !== "0" && value !== "1") fail()
      position++
      return { kind: "boolean", value: value === "1" }
    }
    if (c === "@") {
      position++
      const date = number()
      if (date.kind !== "number" || !Number.isInteger(date.value)) fail()
      return { kind: "other" }
    }
    if (isAlpha(c) || c === "*") return token()
    return fail()
  }

  const params = (): ReadonlyMap<string, BareItem> => {
    const out = new Map<string, BareItem>()
    while (peek() === ";") {
      position++
      skipSpaces()
      const name = key()
      let value: BareItem = { kind: "boolean", value: true }
      if (peek() === "=") {
        position++
        value = bareItem()
      }
      // RFC 9651: a repeated parameter overwrites the earlier one.
      out.set(name, value)
    }
    return out
  }

  const innerList = (): Member => {
    position++
    for (;;) {
      skipSpaces()
      if (peek() === ")") {
        position++
        return { value: "inner-list", params: params() }
      }
      bareItem()
      params()
      if (peek() !== " " && peek() !== ")") fail()
    }
  }

  const member = (): Member => peek() === "(" ? innerList() : { value: bareItem(), params: params() }

  /** Runs `each` over the members of a comma-separated list or dictionary, then checks the end. */
  const members = (each: () => void): void => {
    skipSpaces()
    while (position < text.length) {
      each()
      skipOws()
      if (position >= text.length) break
      if (peek() !== ",") fail()
      position++
      skipOws()
      if (position >= text.length) fail()
    }
  }

  return {
    list: (): Array<Member> => {
      const out: Array<Member> = []
      members(() => {
        out.push(member())
      })
      return out
    },
    dictionary: (): Map<string, Member> => {
      const out = new Map<string, Member>()
      members(() => {
        const name = key()
        if (peek() === "=") {
          position++
          out.set(name, member())
        } else {
          out.set(name, { value: { kind: "boolean", value: true }, params: params() })
        }
      })
      return out
    }
  }
}
