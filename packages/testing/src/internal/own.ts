/**
 * Reading options, and what a request carries, by own keys only
 * (RELIABILITY 10): with `Object.prototype` polluted by other code in the same
 * process, the server's options and its answers stay what they were. Objects
 * handed to Node have a null prototype, so Node cannot find an option we did
 * not give on `Object.prototype` either.
 *
 * The client has the same few lines in its own `internal/own.ts`; neither
 * package may import the other's internals.
 */

/** `record[key]` when `record` has `key` as its own property, otherwise `undefined`. */
export const own = <T extends object, K extends keyof T>(record: T | null | undefined, key: K): T[K] | undefined =>
  record !== null && record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined

/** `fields` as an object with a null prototype: exactly these keys, nothing inherited. */
export const exactly = <A extends object>(fields: A): A => Object.assign(Object.create(null), fields)

/**
 * `fields`, with a null prototype, and every name in `pinnedNames` that
 * `fields` lacks set to `undefined` as an own property: a copy made with
 * `{ ...object }` keeps them, so reading them from the copy never reaches
 * `Object.prototype`.
 */
export const pinned = <A extends object>(pinnedNames: ReadonlyArray<string>, fields: A): A => {
  const out: Record<string, unknown> = Object.create(null)
  for (const name of pinnedNames) out[name] = undefined
  return Object.assign(out, fields) as A
}

/**
 * Sets each of `names` that `target` has neither as its own property nor from
 * its class (anything on its prototype chain short of `Object.prototype`) to
 * `undefined`, as its own: Node reads some settings from the server or socket
 * object itself, where only some constructors set them.
 */
export const pinAbsent = (target: object, names: ReadonlyArray<string>): void => {
  for (const name of names) {
    let holder: object | null = target
    while (holder !== null && holder !== Object.prototype && !Object.hasOwn(holder, name)) {
      holder = Object.getPrototypeOf(holder)
    }
    if (holder === null || holder === Object.prototype) (target as Record<string, unknown>)[name] = undefined
  }
}

/**
 * A deep copy of parsed JSON keeping own keys only, every object with a null
 * prototype: a decoder given the copy (Effect's `Schema` reads optional fields
 * with `in`) cannot pick up an inherited value, and reading an absent field of
 * a decoded copy gives `undefined`.
 */
export const ownData = <A>(value: A): A => copy(value) as A

const copy = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) {
    return Array.from({ length: value.length }, (_, i) => Object.hasOwn(value, i) ? copy(value[i]) : undefined)
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  const out: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(value)) out[key] = copy((value as Record<string, unknown>)[key])
  return out
}
