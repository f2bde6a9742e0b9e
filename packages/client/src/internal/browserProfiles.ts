/**
 * The profile data behind `BrowserProfile`, and the seeded generator that
 * picks from it.
 *
 * Each browser has one builder that writes the headers of a typed-URL,
 * top-level navigation in that browser's own order, so a new version is one
 * line here. Written from what these browsers send (HTTP/2 captures, the same
 * order on HTTP/1.1), not copied from another project's data files.
 * Connection-level headers (`host`, `connection`, `te`, `cookie`) belong to the
 * transport and are left out.
 */

/** One profile and its weight within its family. */
export interface Entry {
  readonly name: string
  readonly family: "desktop" | "mobile" | "bot"
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly weight: number
}

/**
 * Content codings that Node's `zlib` decodes (`zstd` since Node 22.15; the
 * workspace requires 22.19). Profiles never advertise anything else.
 */
export const decodableEncodings: ReadonlyArray<string> = ["gzip", "deflate", "br", "zstd"]

// --- Chromium ---------------------------------------------------------------

const greaseCharacters = [" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_"] as const
const greaseVersions = ["8", "99", "24"] as const
const greaseOrders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] as const

/**
 * The `sec-ch-ua` brand list as Chromium writes it: a GREASE brand, Chromium
 * and the product, permuted, where the GREASE name, its version and the
 * permutation are all derived from the Chromium major version.
 */
export const chromiumBrands = (major: number, product: string, productVersion: string): string => {
  const brands: ReadonlyArray<readonly [string, string]> = [
    [
      `Not${greaseCharacters[major % 11]}A${greaseCharacters[(major + 1) % 11]}Brand`,
      greaseVersions[major % 3]!
    ],
    ["Chromium", String(major)],
    [product, productVersion]
  ]
  const order = greaseOrders[major % 6]!
  const placed: Array<readonly [string, string]> = []
  brands.forEach((brand, index) => {
    placed[order[index]!] = brand
  })
  return placed.map(([brand, version]) => `"${brand}";v="${version}"`).join(", ")
}

const chromiumAccept =
  "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"

type ChromiumPlatform = "windows" | "macos" | "linux" | "android"

const platformHint: Record<ChromiumPlatform, string> = {
  windows: "\"Windows\"",
  macos: "\"macOS\"",
  linux: "\"Linux\"",
  android: "\"Android\""
}

/** The frozen platform part of a reduced Chromium user agent. */
const chromiumOs: Record<ChromiumPlatform, string> = {
  windows: "Windows NT 10.0; Win64; x64",
  macos: "Macintosh; Intel Mac OS X 10_15_7",
  linux: "X11; Linux x86_64",
  android: "Linux; Android 10; K"
}

const chromiumNavigation = (options: {
  readonly major: number
  readonly platform: ChromiumPlatform
  readonly brands: string
  readonly userAgent: string
  readonly acceptEncoding: string
}): ReadonlyArray<readonly [string, string]> => [
  ["sec-ch-ua", options.brands],
  ["sec-ch-ua-mobile", options.platform === "android" ? "?1" : "?0"],
  ["sec-ch-ua-platform", platformHint[options.platform]],
  ["upgrade-insecure-requests", "1"],
  ["user-agent", options.userAgent],
  ["accept", chromiumAccept],
  ["sec-fetch-site", "none"],
  ["sec-fetch-mode", "navigate"],
  ["sec-fetch-user", "?1"],
  ["sec-fetch-dest", "document"],
  ["accept-encoding", options.acceptEncoding],
  ["accept-language", "en-US,en;q=0.9"],
  ["priority", "u=0, i"]
]

const chrome = (major: number, platform: ChromiumPlatform, weight: number): Entry => ({
  name: `chrome-${major}-${platform}`,
  family: platform === "android" ? "mobile" : "desktop",
  weight,
  headers: chromiumNavigation({
    major,
    platform,
    brands: chromiumBrands(major, "Google Chrome", String(major)),
    userAgent: `Mozilla/5.0 (${chromiumOs[platform]}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 ${
      platform === "android" ? "Mobile " : ""
    }Safari/537.36`,
    acceptEncoding: "gzip, deflate, br, zstd"
  })
})

const edge = (major: number, weight: number): Entry => ({
  name: `edge-${major}-windows`,
  family: "desktop",
  weight,
  headers: chromiumNavigation({
    major,
    platform: "windows",
    brands: chromiumBrands(major, "Microsoft Edge", String(major)),
    userAgent:
      `Mozilla/5.0 (${chromiumOs.windows}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${major}.0.0.0 Safari/537.36 Edg/${major}.0.0.0`,
    acceptEncoding: "gzip, deflate, br, zstd"
  })
})

/** Samsung Internet: its own version in the product brand and user agent, Chromium's major everywhere else. */
const samsung = (version: string, chromiumMajor: number, model: string, weight: number): Entry => ({
  name: `samsung-${version.split(".")[0]}-android`,
  family: "mobile",
  weight,
  headers: chromiumNavigation({
    major: chromiumMajor,
    platform: "android",
    brands: chromiumBrands(chromiumMajor, "Samsung Internet", version),
    userAgent:
      `Mozilla/5.0 (Linux; Android 14; SAMSUNG ${model}) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/${version} Chrome/${chromiumMajor}.0.0.0 Mobile Safari/537.36`,
    acceptEncoding: "gzip, deflate, br"
  })
})

// --- Firefox ----------------------------------------------------------------

type FirefoxPlatform = "windows" | "macos" | "linux"

const firefoxOs: Record<FirefoxPlatform, string> = {
  windows: "Windows NT 10.0; Win64; x64",
  macos: "Macintosh; Intel Mac OS X 10.15",
  linux: "X11; Linux x86_64"
}

const firefox = (major: number, platform: FirefoxPlatform, weight: number): Entry => ({
  name: `firefox-${major}-${platform}`,
  family: "desktop",
  weight,
  headers: [
    ["user-agent", `Mozilla/5.0 (${firefoxOs[platform]}; rv:${major}.0) Gecko/20100101 Firefox/${major}.0`],
    ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
    ["accept-language", "en-US,en;q=0.5"],
    ["accept-encoding", "gzip, deflate, br, zstd"],
    ["upgrade-insecure-requests", "1"],
    ["sec-fetch-dest", "document"],
    ["sec-fetch-mode", "navigate"],
    ["sec-fetch-site", "none"],
    ["sec-fetch-user", "?1"],
    ["priority", "u=0, i"]
  ]
})

// --- Safari -----------------------------------------------------------------

const safari = (version: string, platform: "macos" | "ios", weight: number): Entry => ({
  name: `safari-${version}-${platform}`,
  family: platform === "ios" ? "mobile" : "desktop",
  weight,
  headers: [
    ["sec-fetch-dest", "document"],
    [
      "user-agent",
      platform === "ios"
        ? `Mozilla/5.0 (iPhone; CPU iPhone OS ${
          version.replace(".", "_")
        } like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${version} Mobile/15E148 Safari/604.1`
        : `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${version} Safari/605.1.15`
    ],
    ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
    ["sec-fetch-site", "none"],
    ["sec-fetch-mode", "navigate"],
    ["accept-language", "en-US,en;q=0.9"],
    ["priority", "u=0, i"],
    ["accept-encoding", "gzip, deflate, br"]
  ]
})

// --- Bots -------------------------------------------------------------------

const bots: ReadonlyArray<Entry> = [
  {
    name: "httpkit-bot",
    family: "bot",
    weight: 1,
    headers: [
      ["user-agent", "httpkit-bot/0.1"],
      ["accept", "*/*"],
      ["accept-encoding", "gzip, deflate, br"]
    ]
  },
  {
    name: "httpkit-crawler",
    family: "bot",
    weight: 1,
    headers: [
      ["user-agent", "Mozilla/5.0 (compatible; httpkit-crawler/0.1)"],
      ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
      ["accept-language", "en-US,en;q=0.5"],
      ["accept-encoding", "gzip, deflate, br"]
    ]
  },
  {
    name: "curl-8",
    family: "bot",
    weight: 1,
    headers: [
      ["user-agent", "curl/8.11.1"],
      ["accept", "*/*"]
    ]
  }
]

/**
 * Every profile. Weights are relative within a family and follow browser
 * shares roughly: Chrome first, then Safari and Edge, then Firefox.
 */
export const entries: ReadonlyArray<Entry> = [
  chrome(131, "windows", 8),
  chrome(136, "windows", 10),
  chrome(140, "windows", 12),
  chrome(131, "macos", 4),
  chrome(136, "macos", 5),
  chrome(140, "macos", 6),
  edge(131, 3),
  edge(136, 4),
  edge(140, 5),
  firefox(133, "windows", 2),
  firefox(140, "windows", 3),
  firefox(133, "macos", 1),
  firefox(140, "macos", 1),
  firefox(133, "linux", 1),
  firefox(140, "linux", 2),
  safari("18.1", "macos", 4),
  safari("18.3", "macos", 6),
  chrome(131, "android", 12),
  chrome(136, "android", 15),
  chrome(140, "android", 18),
  safari("18.1", "ios", 12),
  safari("18.3", "ios", 18),
  samsung("27.0", 125, "SM-S921B", 6),
  ...bots
]

// --- Picking ----------------------------------------------------------------

/** How much of `mixed` each family gets. */
export const mixedShares = { desktop: 0.65, mobile: 0.3, bot: 0.05 } as const

/** Entries with cumulative weights, for one family or for the mix. */
export interface Table {
  readonly entries: ReadonlyArray<Entry>
  readonly cumulative: ReadonlyArray<number>
}

const tableOf = (weighted: ReadonlyArray<readonly [Entry, number]>): Table => {
  const cumulative: Array<number> = []
  let total = 0
  for (const [, weight] of weighted) {
    total += weight
    cumulative.push(total)
  }
  return { entries: weighted.map(([entry]) => entry), cumulative: cumulative.map((sum) => sum / total) }
}

const familyTable = (family: Entry["family"]): Table =>
  tableOf(entries.filter((entry) => entry.family === family).map((entry) => [entry, entry.weight]))

const familyTotal = (family: Entry["family"]): number =>
  entries.reduce((sum, entry) => entry.family === family ? sum + entry.weight : sum, 0)

/** The pick tables, one per family and one for the mix. */
export const tables: Record<"desktop" | "mobile" | "bot" | "mixed", Table> = {
  desktop: familyTable("desktop"),
  mobile: familyTable("mobile"),
  bot: familyTable("bot"),
  mixed: tableOf(entries.map((entry) => [entry, mixedShares[entry.family] * entry.weight / familyTotal(entry.family)]))
}

/** The entry at `u` in `[0, 1)`. */
export const pick = (table: Table, u: number): Entry => {
  const index = table.cumulative.findIndex((sum) => u < sum)
  return table.entries[index === -1 ? table.entries.length - 1 : index]!
}

/**
 * One step of mulberry32 (Tommy Ettinger's 32-bit generator): the next state
 * and a number in `[0, 1)`. Small, fast and good enough for picking profiles;
 * not for anything secret.
 */
export const mulberry32 = (state: number): readonly [number, number] => {
  const next = (state + 0x6d2b79f5) | 0
  let t = Math.imul(next ^ (next >>> 15), next | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return [((t ^ (t >>> 14)) >>> 0) / 4294967296, next]
}
