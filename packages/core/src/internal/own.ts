/**
 * Reading what callers hand in by its own keys only, so that a polluted
 * `Object.prototype` changes no answer (RELIABILITY 10): `options.now` on an
 * object without `now` would otherwise return `Object.prototype.now` when
 * some other code has set it.
 */

/**
 * `from[key]` when `from` is an object holding `key` itself; `undefined` when
 * the key is absent or only inherited, or `from` is not an object.
 */
export const get = <O extends object, K extends keyof O>(from: O | null | undefined, key: K): O[K] | undefined =>
  typeof from === "object" && from !== null && Object.hasOwn(from, key) ? from[key] : undefined
