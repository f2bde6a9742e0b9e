/**
 * Per-host concurrency for batches and queue workers: at most `perHost`
 * downloads at once per host (host and port). A host's semaphore is dropped as soon as
 * nobody holds or waits for it, so a crawler (or a batch) visiting many hosts
 * keeps only the hosts it is working on in memory.
 */
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"

/** The host (and port) of a URL; one shared key for URLs that do not parse. */
export const hostOf = (url: string): string => {
  try {
    return new URL(url).host
  } catch {
    return ""
  }
}

/** Runs effects within `perHost` at once per host of their URL. */
export const make = (perHost: number) => {
  const hosts = new Map<string, { readonly semaphore: Semaphore.Semaphore; users: number }>()
  return <A, E, R>(url: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      const key = hostOf(url)
      let entry = hosts.get(key)
      if (entry === undefined) {
        entry = { semaphore: Semaphore.makeUnsafe(perHost), users: 0 }
        hosts.set(key, entry)
      }
      const held = entry
      held.users++
      return Effect.ensuring(
        held.semaphore.withPermit(effect),
        Effect.sync(() => {
          held.users--
          if (held.users === 0) hosts.delete(key)
        })
      )
    })
}
