/**
 * What the spans of a call redact: every header the client treats as secret
 * (the built-in names, `secretHeaders`, and the names an auth provider adds
 * live) and every query parameter that looks like a credential (RELIABILITY 8).
 * Set once per call in the fiber's context, and cached: a context never
 * changes, and the calls of one fiber (or of fibers forked from one) share it.
 */
import * as Context from "effect/Context"
import * as Headers from "effect/http/Headers"
import * as UrlParams from "effect/http/UrlParams"
import * as Redact from "../Redact.ts"

const redactedParams: ReadonlyArray<RegExp> = [Redact.secretParamPattern, Redact.camelSecretParamPattern]

/** The redaction of one client's calls. */
export class Redaction {
  readonly #staticNames: ReadonlyArray<string | RegExp>
  readonly #secretNames: ReadonlySet<string>
  readonly #authNames: ReadonlySet<string> | undefined
  // Auth's names only ever grow (`Auth.set` adds): the list is rebuilt when their number changes.
  #authNamesSeen = 0
  #withAuthNames: ReadonlyArray<string | RegExp>
  #base: Context.Context<never> | undefined = undefined
  #names: ReadonlyArray<string | RegExp> | undefined = undefined
  #context: Context.Context<never> | undefined = undefined

  constructor(secretHeaders: Iterable<string>, authNames: ReadonlySet<string> | undefined) {
    this.#secretNames = new Set([...Redact.secretHeaderNames, ...secretHeaders])
    // Effect's header redaction takes patterns too: names of a secret's form (`x-goog-api-key`).
    this.#staticNames = [...this.#secretNames, Redact.secretHeaderPattern]
    this.#withAuthNames = this.#staticNames
    this.#authNames = authNames
  }

  /**
   * Whether a header (lower case) is a secret: one of ours, one of a secret's
   * form (`Redact.secretHeaderPattern`), or one the auth provider sends (read
   * live).
   */
  isSecret(name: string): boolean {
    return this.#secretNames.has(name) || Redact.secretHeaderPattern.test(name) || (this.#authNames?.has(name) ?? false)
  }

  /** Every secret header name, as the spans take them. */
  headerNames(): ReadonlyArray<string | RegExp> {
    const authNames = this.#authNames
    if (authNames === undefined || authNames.size === 0) return this.#staticNames
    if (authNames.size !== this.#authNamesSeen) {
      this.#authNamesSeen = authNames.size
      this.#withAuthNames = [...this.#staticNames, ...authNames]
    }
    return this.#withAuthNames
  }

  /**
   * `outer` with span redaction set for `names`, kept for the last context
   * and names seen (each `Context.add` copies the context).
   */
  contextFor(outer: Context.Context<never>, names: ReadonlyArray<string | RegExp>): Context.Context<never> {
    if (outer !== this.#base || names !== this.#names) {
      this.#context = Context.add(
        Context.add(outer, Headers.CurrentRedactedNames, names),
        UrlParams.CurrentRedactedNames,
        redactedParams
      )
      this.#base = outer
      this.#names = names
    }
    return this.#context!
  }
}
