/**
 * Coherent sets of request headers, each the one a real client of one kind
 * sends on a top-level navigation, in that client's order: Chrome, Edge,
 * Firefox and Safari on the desktop, Chrome, Safari and Samsung Internet on
 * phones, and a few honest bots.
 *
 * Use the `BrowserProfiles` service when a request should look like one
 * coherent client rather than a library: `next` gives a profile, whose headers
 * go on the request first, in order, before the caller's own (which win).
 *
 * ```ts
 * import * as BrowserProfile from "@httpkit/client/BrowserProfile"
 *
 * const program = Effect.gen(function*() {
 *   const profiles = yield* BrowserProfile.BrowserProfiles
 *   const profile = yield* profiles.next
 *   // profile.headers: [["sec-ch-ua", ...], ["sec-ch-ua-mobile", "?0"], ...]
 * }).pipe(Effect.provide(BrowserProfile.layer({ family: "desktop", seed: 42 })))
 * ```
 *
 * **Details**
 *
 * Consistency is the point, and `validate` checks it: a Chromium profile's
 * `sec-ch-ua` names the same major version as its `user-agent`, its
 * `sec-ch-ua-mobile` and `sec-ch-ua-platform` agree with the user agent's
 * platform; Firefox and Safari send no client hints; every browser sends the
 * `accept`, `accept-language`, `accept-encoding` and `sec-fetch-*` headers of
 * a typed-URL navigation in its own order. A seed makes the sequence of
 * profiles reproducible (a mulberry32 generator; no `Math.random`).
 *
 * **Gotchas**
 *
 * - `accept-encoding` advertises `gzip`, `deflate`, `br` and, where the
 *   browser sends it, `zstd`: all decodable by `node:zlib` (zstd since Node
 *   22.15). Neither undici nor Effect's `HttpClient` decodes bodies for you,
 *   so the client that sends these headers must decode `Content-Encoding`
 *   itself, or override `accept-encoding`.
 * - Effect's `HttpClient` adds `traceparent` and `b3` headers by default, which
 *   no browser sends; turn them off with `HttpClient.TracerPropagationEnabled`
 *   set to `false` when the point is to look like a browser.
 * - Connection-level headers (`host`, `connection`, `te`, `cookie`) are the
 *   transport's and are not in profiles; so the order on the wire starts with
 *   whatever the transport writes first (undici: `host`).
 * - Bot profiles identify as httpkit or curl; none impersonates a search
 *   engine's crawler, whose operators verify them by reverse DNS anyway.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as internal from "./internal/browserProfiles.ts"
import { own } from "./internal/own.ts"

/**
 * Which kinds of client to draw from: `mixed` draws from all of them, mostly
 * desktop browsers (65 % desktop, 30 % mobile, 5 % bots).
 *
 * @category models
 * @since 0.1.0
 */
export type Family = "desktop" | "mobile" | "bot" | "mixed"

/**
 * One client's headers.
 *
 * @category models
 * @since 0.1.0
 */
export interface Profile {
  /** A stable name such as `chrome-131-windows` or `safari-18.3-ios`. */
  readonly name: string
  readonly family: "desktop" | "mobile" | "bot"
  /**
   * Header name (lower case) and value, in the order a real client of this
   * kind sends them; includes `user-agent`.
   */
  readonly headers: ReadonlyArray<readonly [string, string]>
}

/**
 * Options for `layer` and `make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The kinds of client to draw from. */
  readonly family: Family
  /**
   * Seed for the generator: the same seed gives the same sequence of profiles.
   * Without one the seed comes from Effect's `Random` service.
   */
  readonly seed?: number | undefined
  /**
   * `per-request`: a new draw on every `next`; `sticky`: one profile for the
   * service's lifetime.
   *
   * @default "per-request"
   */
  readonly rotate?: "per-request" | "sticky" | undefined
}

/**
 * Hands out profiles. The resilient client asks once per logical request and
 * uses that profile for all of its attempts.
 *
 * @category services
 * @since 0.1.0
 */
export class BrowserProfiles extends Context.Service<BrowserProfiles, {
  /** The profile for the next request. */
  readonly next: Effect.Effect<Profile>
}>()("@httpkit/client/BrowserProfiles") {}

const toProfile = (entry: internal.Entry): Profile => ({
  name: entry.name,
  family: entry.family,
  headers: entry.headers
})

/**
 * Every profile, desktop first, then mobile, then bots.
 *
 * @category constants
 * @since 0.1.0
 */
export const profiles: ReadonlyArray<Profile> = internal.entries.map(toProfile)

/**
 * The profiles one family draws from.
 *
 * @category utils
 * @since 0.1.0
 */
export const profilesOf = (family: Family): ReadonlyArray<Profile> =>
  family === "mixed" ? profiles : profiles.filter((profile) => profile.family === family)

/**
 * Content codings that profiles may advertise in `accept-encoding`: the ones
 * `node:zlib` decodes.
 *
 * @category constants
 * @since 0.1.0
 */
export const decodableEncodings: ReadonlyArray<string> = internal.decodableEncodings

/**
 * Builds the service: draws with a seeded generator, or once for `sticky`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  // Own keys only, for the options and the table of families (RELIABILITY 10).
  const family = own(options, "family")
  if (family === undefined || !Object.hasOwn(internal.tables, family)) {
    return yield* Effect.die(new TypeError(`BrowserProfile: unknown family ${JSON.stringify(family)}`))
  }
  const table = internal.tables[family]
  const seed = own(options, "seed") ?? (yield* Random.nextInt)
  const state = yield* Ref.make(seed >>> 0)
  const draw = Ref.modify(state, (current) => {
    const [u, next] = internal.mulberry32(current)
    return [toProfile(internal.pick(table, u)), next] as const
  })
  if (own(options, "rotate") === "sticky") {
    const profile = yield* draw
    return BrowserProfiles.of({ next: Effect.succeed(profile) })
  }
  return BrowserProfiles.of({ next: draw })
})

/**
 * A layer that draws profiles from a family.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<BrowserProfiles> => Layer.effect(BrowserProfiles, make(options))

// --- validate ---------------------------------------------------------------

type Engine = "chromium" | "firefox" | "safari" | "none"

/** Each engine's header order on a navigation; a profile's headers must follow it. */
const engineOrder: Record<Engine, ReadonlyArray<string>> = {
  chromium: [
    "sec-ch-ua",
    "sec-ch-ua-mobile",
    "sec-ch-ua-platform",
    "upgrade-insecure-requests",
    "user-agent",
    "accept",
    "sec-fetch-site",
    "sec-fetch-mode",
    "sec-fetch-user",
    "sec-fetch-dest",
    "accept-encoding",
    "accept-language",
    "priority"
  ],
  firefox: [
    "user-agent",
    "accept",
    "accept-language",
    "accept-encoding",
    "upgrade-insecure-requests",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-user",
    "priority"
  ],
  safari: [
    "sec-fetch-dest",
    "user-agent",
    "accept",
    "sec-fetch-site",
    "sec-fetch-mode",
    "accept-language",
    "priority",
    "accept-encoding"
  ],
  none: ["user-agent", "accept", "accept-language", "accept-encoding"]
}

/** Headers every browser sends on a navigation, with their only value where it is fixed. */
const navigation: ReadonlyArray<readonly [string, string | undefined]> = [
  ["accept", undefined],
  ["accept-language", undefined],
  ["accept-encoding", undefined],
  ["sec-fetch-site", "none"],
  ["sec-fetch-mode", "navigate"],
  ["sec-fetch-dest", "document"]
]

/** Sent by Chromium and Firefox on a user-initiated navigation, not by Safari. */
const userActivation: ReadonlyArray<readonly [string, string]> = [
  ["sec-fetch-user", "?1"],
  ["upgrade-insecure-requests", "1"]
]

/** Headers that belong to the connection or to the caller, never to a profile. */
const transportHeaders = new Set([
  "host",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "content-length",
  "te",
  "trailer",
  "expect",
  "cookie",
  "authorization"
])

const token = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
const fieldValue = /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/
const crawlerNames = /googlebot|bingbot|yandex|baiduspider|duckduckbot|applebot|facebookexternalhit|slurp/i

const engineOf = (userAgent: string): Engine => {
  if (/ Gecko\/20100101 Firefox\/\d+\.0$/.test(userAgent)) return "firefox"
  if (/AppleWebKit\/537\.36 .* Chrome\/\d+\.0\.0\.0 /.test(userAgent)) return "chromium"
  if (/AppleWebKit\/605\.1\.15 .* Version\/[\d.]+ (Mobile\/\w+ )?Safari\/60\d[.\d]*$/.test(userAgent)) return "safari"
  return "none"
}

/** The platform a user agent names, as `sec-ch-ua-platform` spells it. */
const platformOf = (userAgent: string): string | undefined => {
  if (/\(Windows NT /.test(userAgent)) return "Windows"
  if (/\((iPhone|iPad);/.test(userAgent)) return "iOS"
  if (/\(Macintosh; /.test(userAgent)) return "macOS"
  if (/Android \d+/.test(userAgent)) return "Android"
  if (/\(X11; .*Linux/.test(userAgent)) return "Linux"
  return undefined
}

const parseBrands = (value: string): ReadonlyArray<readonly [string, string]> | undefined => {
  const brands: Array<readonly [string, string]> = []
  for (const part of value.split(", ")) {
    const match = /^"([^"]+)";v="([^"]+)"$/.exec(part)
    if (match === null) return undefined
    brands.push([match[1]!, match[2]!])
  }
  return brands
}

const chromiumProblems = (
  userAgent: string,
  header: (name: string) => string | undefined,
  mobile: boolean
): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const major = /Chrome\/(\d+)\./.exec(userAgent)![1]!
  const edge = /Edg\/(\d+)\./.exec(userAgent)
  const samsung = /SamsungBrowser\/([\d.]+) /.exec(userAgent)
  const [product, productVersion] = edge !== null
    ? ["Microsoft Edge", edge[1]!]
    : samsung !== null
    ? ["Samsung Internet", samsung[1]!]
    : ["Google Chrome", major]
  const brands = parseBrands(header("sec-ch-ua") ?? "")
  if (brands === undefined || brands.length !== 3) {
    problems.push("sec-ch-ua is not a list of three brands")
  } else {
    const version = (name: string) => brands.find(([brand]) => brand === name)?.[1]
    if (version("Chromium") !== major) problems.push(`sec-ch-ua: Chromium is not version ${major}`)
    if (version(product) !== productVersion) problems.push(`sec-ch-ua: ${product} is not version ${productVersion}`)
    if (!brands.some(([brand]) => /^Not.A.Brand$/.test(brand))) problems.push("sec-ch-ua: no GREASE brand")
  }
  const expectedMobile = mobile ? "?1" : "?0"
  if (header("sec-ch-ua-mobile") !== expectedMobile) problems.push(`sec-ch-ua-mobile is not ${expectedMobile}`)
  const platform = platformOf(userAgent)
  if (header("sec-ch-ua-platform") !== `"${platform}"`) {
    problems.push(`sec-ch-ua-platform does not match the user agent's platform (${platform})`)
  }
  return problems
}

/**
 * Checks a profile's invariants and returns what is wrong, or nothing:
 *
 * - header names are lower-case tokens, each once, with printable values; no
 *   connection-level or credential headers (`host`, `connection`, `cookie`...);
 * - a `user-agent`; browsers (Chromium, Firefox, Safari, told apart by their
 *   user agent) are `desktop` or `mobile` as their platform says, everything
 *   else is a `bot` that names itself and impersonates no search engine;
 * - Chromium: `sec-ch-ua` has Chromium at the user agent's major version, the
 *   product (Chrome, Edge, Samsung Internet) at its own version and a GREASE
 *   brand; `sec-ch-ua-mobile` and `sec-ch-ua-platform` match the platform;
 * - Firefox, Safari and bots send no `sec-ch-ua*`; bots no `sec-fetch-*` and
 *   no `upgrade-insecure-requests`;
 * - browsers send `accept` (HTML first), `accept-language`, `accept-encoding`
 *   and the `sec-fetch-*` values of a typed-URL navigation; Chromium and
 *   Firefox also `sec-fetch-user: ?1` and `upgrade-insecure-requests: 1`;
 * - `accept-encoding` lists only `decodableEncodings`;
 * - the headers follow the engine's order.
 *
 * @category predicates
 * @since 0.1.0
 */
export const validate = (profile: Profile): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const names = profile.headers.map(([name]) => name)
  const header = (name: string) => profile.headers.find(([candidate]) => candidate === name)?.[1]

  if (profile.name.length === 0) problems.push("the name is empty")
  for (const [name, value] of profile.headers) {
    if (!token.test(name)) problems.push(`${JSON.stringify(name)} is not a lower-case header name`)
    if (!fieldValue.test(value)) problems.push(`${name} has an empty or unprintable value`)
    if (transportHeaders.has(name)) problems.push(`${name} belongs to the transport or the caller`)
  }
  if (new Set(names).size !== names.length) problems.push("a header appears twice")

  const userAgent = header("user-agent")
  if (userAgent === undefined) return [...problems, "no user-agent"]
  const engine = engineOf(userAgent)
  const platform = platformOf(userAgent)
  const mobile = platform === "Android" || platform === "iOS"

  if (engine === "none") {
    if (profile.family !== "bot") problems.push(`a ${profile.family} profile with an unrecognised browser user agent`)
    if (crawlerNames.test(userAgent)) problems.push("a bot impersonating a search engine's crawler")
    if (/Chrome\/|Firefox\/|Safari\/|AppleWebKit|Gecko\//.test(userAgent)) {
      problems.push("a bot whose user agent claims a browser engine")
    }
    if (names.some((name) => name.startsWith("sec-") || name === "upgrade-insecure-requests")) {
      problems.push("a bot sending browser-only headers")
    }
  } else {
    const family = mobile ? "mobile" : "desktop"
    if (profile.family !== family) problems.push(`family is ${profile.family}, the user agent says ${family}`)
    if (mobile !== /\bMobile\b/.test(userAgent)) {
      problems.push("the user agent's Mobile token disagrees with its platform")
    }
    if (!(header("accept") ?? "").startsWith("text/html")) problems.push("accept does not put text/html first")
    const required = engine === "safari" ? navigation : [...navigation, ...userActivation]
    for (const [name, value] of required) {
      const actual = header(name)
      if (actual === undefined) problems.push(`no ${name}`)
      else if (value !== undefined && actual !== value) problems.push(`${name} is ${actual}, not ${value}`)
    }
  }

  if (engine === "chromium") {
    problems.push(...chromiumProblems(userAgent, header, mobile))
  } else if (names.some((name) => name.startsWith("sec-ch-"))) {
    problems.push("client hints from a client that sends none")
  }

  const encoding = header("accept-encoding")
  if (encoding !== undefined) {
    for (const coding of encoding.split(",").map((part) => part.trim().split(";")[0]!)) {
      if (!internal.decodableEncodings.includes(coding)) problems.push(`accept-encoding offers ${coding}`)
    }
  }

  const order = engineOrder[engine]
  let last = -1
  for (const name of names) {
    const index = order.indexOf(name)
    if (index === -1) problems.push(`${name} is not sent by this kind of client`)
    else if (index < last) problems.push(`${name} is out of order`)
    else last = index
  }
  return problems
}
