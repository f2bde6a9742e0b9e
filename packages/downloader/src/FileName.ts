/**
 * Safe file names for downloads. Names that come from the network (a
 * `Content-Disposition` header, the last segment of a URL path) are reduced to
 * one base name that is safe to create in a download folder, and a resolved
 * path is checked to stay inside that folder.
 *
 * Use {@link choose} to pick and clean the name of a response, then
 * {@link resolveInside} to turn it into the path to write.
 *
 * **Details**
 *
 * - {@link fromContentDisposition} and {@link fromUrl} return the name as sent,
 *   not yet safe; {@link sanitize} makes it safe or refuses it with a reason.
 * - Everything here is pure: no file system access, no I/O.
 *
 * **Gotchas**
 *
 * - {@link resolveInside} compares strings. It does not follow symbolic links:
 *   a link inside the folder that points outside it is not detected.
 * - Two different network names can sanitise to the same name (`a:b` and `a?b`
 *   both become `a_b`), and case-insensitive file systems fold more names
 *   together. Deciding what happens when the file exists is the caller's job.
 *
 * @since 0.1.0
 */
import * as Path from "node:path"
import { own } from "./internal/own.ts"

// --- models -----------------------------------------------------------------

/**
 * A name that is safe to create in a download folder.
 *
 * @category models
 * @since 0.1.0
 */
export interface SafeName {
  readonly ok: true
  readonly name: string
}

/**
 * A name that could not be made safe, with a short reason for people.
 *
 * @category models
 * @since 0.1.0
 */
export interface RefusedName {
  readonly ok: false
  readonly reason: string
}

/**
 * The outcome of {@link sanitize} and {@link choose}.
 *
 * @category models
 * @since 0.1.0
 */
export type Sanitized = SafeName | RefusedName

/**
 * Options of {@link sanitize}.
 *
 * @category models
 * @since 0.1.0
 */
export interface SanitizeOptions {
  /**
   * The longest name allowed, in UTF-8 bytes. A longer name is shortened.
   *
   * @default 255
   */
  readonly maxBytes?: number | undefined
}

/**
 * Where {@link choose} looks for a name.
 *
 * @category models
 * @since 0.1.0
 */
export interface ChooseInput extends SanitizeOptions {
  /** The response's `Content-Disposition` header, if it has one. */
  readonly contentDisposition?: string | undefined
  /** The URL that was downloaded (after redirects, if the caller prefers that one). */
  readonly url: string | URL
  /**
   * The name used when neither the header nor the URL gives a usable one.
   *
   * @default "download"
   */
  readonly fallback?: string | undefined
}

/**
 * The default of {@link SanitizeOptions.maxBytes}: the longest name that ext4,
 * XFS, Btrfs, APFS and NTFS all accept.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultMaxBytes = 255

/**
 * The default of {@link ChooseInput.fallback}.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaultFallback = "download"

// --- parsing ----------------------------------------------------------------

/** Reads the `name=value` parameters of a header, lower-casing names; the first of a repeated name wins. */
const parameters = (header: string): Map<string, string> => {
  const found = new Map<string, string>()
  const length = header.length
  let i = 0
  let equals = -1
  while (i < length) {
    // One parameter (or the disposition type) per `;`-separated part; `equals` is searched again only once passed.
    if (equals < i) equals = header.indexOf("=", i)
    const semicolon = header.indexOf(";", i)
    if (equals < 0 || (semicolon >= 0 && semicolon < equals)) {
      if (semicolon < 0) break
      i = semicolon + 1
      continue
    }
    const name = header.slice(i, equals).trim().toLowerCase()
    i = equals + 1
    while (i < length && isSpace(header[i]!)) i++
    let value: string
    if (header[i] === "\"") {
      // quoted-string: backslash escapes the next character; an unclosed quote runs to the end.
      let text = ""
      i++
      while (i < length && header[i] !== "\"") {
        if (header[i] === "\\" && i + 1 < length) i++
        text += header[i]
        i++
      }
      value = text
      const next = header.indexOf(";", i)
      i = next < 0 ? length : next + 1
    } else {
      // token: tolerant of the spaces that some servers leave unquoted.
      const next = header.indexOf(";", i)
      value = header.slice(i, next < 0 ? length : next).trim()
      i = next < 0 ? length : next + 1
    }
    if (name !== "" && !found.has(name)) found.set(name, value)
  }
  return found
}

const isSpace = (char: string): boolean => char === " " || char === "\t"

const isHex = (char: string | undefined): boolean => char !== undefined && /^[0-9a-f]$/i.test(char)

const utf8Decoder = new TextDecoder("utf-8", { fatal: true })
const utf8Encoder = new TextEncoder()

/**
 * Decodes an RFC 8187 ext-value (`charset'language'percent-encoded`), or
 * `undefined` when the charset is unknown or the encoding is malformed.
 */
const decodeExtValue = (value: string): string | undefined => {
  const first = value.indexOf("'")
  const second = first < 0 ? -1 : value.indexOf("'", first + 1)
  if (second < 0) return undefined
  const charset = value.slice(0, first).trim().toLowerCase()
  const latin1 = charset === "iso-8859-1"
  if (!latin1 && charset !== "utf-8") return undefined
  const bytes: Array<number> = []
  const encoded = value.slice(second + 1)
  for (let i = 0; i < encoded.length; i++) {
    const char = encoded[i]!
    if (char === "%") {
      if (!isHex(encoded[i + 1]) || !isHex(encoded[i + 2])) return undefined
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16))
      i += 2
    } else if (latin1) {
      const code = char.charCodeAt(0)
      if (code > 0xff) return undefined
      bytes.push(code)
    } else {
      // Not an attr-char, but servers send raw UTF-8 here: keep it as its bytes.
      const code = char.codePointAt(0)!
      const text = code > 0xffff ? encoded.slice(i, i + 2) : char
      if (code > 0xffff) i++
      bytes.push(...utf8Encoder.encode(text))
    }
  }
  if (latin1) {
    let text = ""
    for (const byte of bytes) text += String.fromCharCode(byte)
    return text
  }
  try {
    return utf8Decoder.decode(new Uint8Array(bytes))
  } catch {
    return undefined
  }
}

/**
 * The file name a `Content-Disposition` header (RFC 6266) carries, as sent:
 * not yet safe to use, pass it to {@link sanitize}.
 *
 * `filename*` (an RFC 8187 ext-value in `UTF-8` or `ISO-8859-1`, with an
 * optional language tag) wins over `filename`. A `filename*` with an unknown
 * charset or malformed percent-encoding is ignored in favour of `filename`.
 * Parameter names are case-insensitive and may come in any order; values are
 * quoted strings (with backslash escapes) or tokens. `undefined` when the
 * header carries no non-empty name.
 *
 * @example
 * ```ts
 * import * as FileName from "@httpkit/downloader/FileName"
 *
 * FileName.fromContentDisposition(`attachment; filename="a b.txt"; filename*=UTF-8''na%C3%AFve.txt`)
 * // "naïve.txt"
 * ```
 *
 * @category parsing
 * @since 0.1.0
 */
export const fromContentDisposition = (header: string): string | undefined => {
  const found = parameters(header)
  const extended = found.get("filename*")
  if (extended !== undefined) {
    const decoded = decodeExtValue(extended)
    if (decoded !== undefined && decoded !== "") return decoded
  }
  const plain = found.get("filename")
  return plain === undefined || plain === "" ? undefined : plain
}

/** Resolves relative URLs (`/files/a.txt`) so that their path can still be read. */
const urlBase = "http://localhost/"

/**
 * The last non-empty segment of a URL's path, percent-decoded (a segment that
 * does not decode is kept as it is), ignoring the query and the fragment.
 * `undefined` for an empty path, `/`, or a string that is not a URL.
 *
 * An encoded `%2F` or `%5C` is part of the segment, not a separator: it
 * decodes to `_`, so `a%2Fb.txt` gives `a_b.txt`. The result is as sent
 * otherwise: pass it to {@link sanitize}.
 *
 * @category parsing
 * @since 0.1.0
 */
export const fromUrl = (url: string | URL): string | undefined => {
  const parsed = typeof url === "string" ? URL.parse(url, urlBase) : url
  if (parsed === null) return undefined
  const segments = parsed.pathname.split("/")
  let segment: string | undefined
  for (let i = segments.length - 1; i >= 0 && segment === undefined; i--) {
    if (segments[i] !== "") segment = segments[i]
  }
  if (segment === undefined) return undefined
  let decoded: string
  try {
    decoded = decodeURIComponent(segment)
  } catch {
    decoded = segment
  }
  return decoded.replace(/[/\\]/g, "_")
}

// --- sanitizing -------------------------------------------------------------

/**
 * Characters removed outright: C0 and C1 controls, and the invisible
 * formatting characters that can disguise a name (bidi embeddings, overrides,
 * isolates and marks, zero-width characters, the word joiner, the BOM).
 */
const isRemoved = (code: number): boolean =>
  code <= 0x1f
  || (code >= 0x7f && code <= 0x9f)
  || code === 0x061c
  || (code >= 0x200b && code <= 0x200f)
  || (code >= 0x202a && code <= 0x202e)
  || code === 0x2060
  || (code >= 0x2066 && code <= 0x2069)
  || code === 0xfeff

/** Characters Windows refuses in names (`/` and `\` are gone by the time this runs): replaced by `_`. */
const reservedChars = /[<>:"|?*]/g

/** Windows device names, alone or before an extension: `CON`, `nul.txt`, `COM1.tar.gz`, `LPT¹`. */
const deviceName =
  /^(?:con|prn|aux|nul|conin\$|conout\$|com[0-9\u00b9\u00b2\u00b3]|lpt[0-9\u00b9\u00b2\u00b3])\s*(?:\.|$)/i

const whitespace = /\s/

/** Drops trailing whitespace and dots, which Windows strips silently. A loop rather than a regex: no backtracking. */
const trimEndDots = (text: string): string => {
  let end = text.length
  while (end > 0 && (text[end - 1] === "." || whitespace.test(text[end - 1]!))) end--
  return text.slice(0, end)
}

const utf8Length = (text: string): number => {
  let bytes = 0
  for (const char of text) {
    const code = char.codePointAt(0)!
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4
  }
  return bytes
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" })

/** The longest prefix of `text` within `maxBytes` UTF-8 bytes, cut between graphemes (between code points if no grapheme fits). */
const cutToBytes = (text: string, maxBytes: number): string => {
  let kept = ""
  let bytes = 0
  for (const { segment } of graphemes.segment(text)) {
    const size = utf8Length(segment)
    if (bytes + size > maxBytes) break
    kept += segment
    bytes += size
  }
  if (kept !== "") return kept
  for (const char of text) {
    const size = utf8Length(char)
    if (bytes + size > maxBytes) break
    kept += char
    bytes += size
  }
  return kept
}

/** The longest extension kept when a name is shortened, in characters after the dot. */
const maxExtensionChars = 16

/** Shortens `name` to `maxBytes`, keeping its extension when there is one and room for a stem. */
const shorten = (name: string, maxBytes: number): string => {
  if (utf8Length(name) <= maxBytes) return name
  const dot = name.lastIndexOf(".")
  if (dot > 0) {
    const extension = name.slice(dot)
    const extensionChars = [...extension].length - 1
    const extensionBytes = utf8Length(extension)
    if (extensionChars >= 1 && extensionChars <= maxExtensionChars && extensionBytes < maxBytes) {
      const stem = cutToBytes(name.slice(0, dot), maxBytes - extensionBytes)
      if (stem !== "") return stem + extension
    }
  }
  return trimEndDots(cutToBytes(name, maxBytes))
}

const refused = (reason: string): RefusedName => ({ ok: false, reason })

/**
 * Reduces a name from the network to a safe base name, or refuses it.
 *
 * In order:
 *
 * 1. Lone surrogates become U+FFFD; only the part after the last `/` or `\`
 *    is kept (`../../etc/passwd` gives `passwd`, `C:\x\y.txt` gives `y.txt`).
 * 2. Control characters (U+0000–U+001F, U+007F–U+009F) and invisible
 *    formatting characters (bidi controls U+202A–U+202E, U+2066–U+2069,
 *    U+200E, U+200F, U+061C; zero-width U+200B–U+200D, U+2060, U+FEFF) are
 *    removed: they have no visible form to keep. The characters Windows
 *    reserves, `<>:"|?*`, are replaced by `_`, which keeps words apart
 *    (`a:b` gives `a_b`).
 * 3. The name is normalised to Unicode NFC.
 * 4. `.` and `..` are refused. Leading whitespace, trailing whitespace and
 *    trailing dots are trimmed; a name left empty is refused.
 * 5. A leading `.` becomes `_`: a download should not arrive as a hidden file
 *    (`.bashrc` gives `_bashrc`).
 * 6. Windows device names (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`,
 *    `LPT0`–`LPT9`, `CONIN$`, `CONOUT$`, any case, with or without an
 *    extension) get a `_` prefix: `nul.txt` gives `_nul.txt`.
 * 7. A name longer than `maxBytes` UTF-8 bytes is shortened between
 *    characters (between graphemes where possible, so an emoji is never cut),
 *    keeping its extension: the part after the last dot, when it has 1 to 16
 *    characters. `x.tar.gz` keeps `.gz`.
 *
 * The result is stable: sanitising a safe name returns it unchanged.
 *
 * @category utils
 * @since 0.1.0
 */
export const sanitize = (name: string, options?: SanitizeOptions): Sanitized => {
  const maxBytes = own(options, "maxBytes") ?? defaultMaxBytes
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    return refused(`maxBytes must be a whole number of at least 1, got ${maxBytes}`)
  }
  const wellFormed = name.toWellFormed()
  const base = wellFormed.slice(Math.max(wellFormed.lastIndexOf("/"), wellFormed.lastIndexOf("\\")) + 1)
  let kept = ""
  for (const char of base) {
    if (!isRemoved(char.codePointAt(0)!)) kept += char
  }
  const cleaned = kept.replace(reservedChars, "_").normalize("NFC")
  if (cleaned === "." || cleaned === "..") return refused(`"${cleaned}" is not a file name`)
  let safe = trimEndDots(cleaned.trimStart())
  if (safe === "") return refused("the name is empty after removing unsafe characters")
  if (safe.startsWith(".")) safe = `_${safe.slice(1)}`
  if (deviceName.test(safe)) safe = `_${safe}`
  safe = shorten(safe, maxBytes)
  // Shortening can expose a device name (`CONSOLE.txt` to `CON.txt`); the prefix then needs room.
  if (deviceName.test(safe)) safe = shorten(`_${safe}`, maxBytes)
  if (safe === "") return refused(`no character of the name fits in ${maxBytes} bytes`)
  return { ok: true, name: safe }
}

/**
 * Picks the name of a download: the `Content-Disposition` name if there is one
 * and it sanitises to a safe name, else the URL's last path segment if that
 * does, else `fallback`. The result is sanitised with the same `maxBytes`.
 *
 * @example
 * ```ts
 * import * as FileName from "@httpkit/downloader/FileName"
 *
 * FileName.choose({ contentDisposition: `attachment; filename="../../etc/passwd"`, url: "https://example.com/x" })
 * // { ok: true, name: "passwd" }
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const choose = (input: ChooseInput): Sanitized => {
  // Read by own keys only (RELIABILITY 10).
  const options: SanitizeOptions = { maxBytes: own(input, "maxBytes") }
  const contentDisposition = own(input, "contentDisposition")
  const candidates = [
    contentDisposition === undefined ? undefined : fromContentDisposition(contentDisposition),
    fromUrl(input.url)
  ]
  for (const candidate of candidates) {
    if (candidate === undefined) continue
    const result = sanitize(candidate, options)
    if (result.ok) return result
  }
  return sanitize(own(input, "fallback") ?? defaultFallback, options)
}

// --- paths ------------------------------------------------------------------

/**
 * `path.resolve(folder, name)`, or `undefined` unless that path is strictly
 * inside `path.resolve(folder)`: not the folder itself, not beside it, not
 * above it. A trailing separator on `folder` makes no difference.
 *
 * @example
 * ```ts
 * import * as FileName from "@httpkit/downloader/FileName"
 *
 * FileName.resolveInside("/downloads", "a.txt") // "/downloads/a.txt"
 * FileName.resolveInside("/downloads", "../a.txt") // undefined
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const resolveInside = (folder: string, name: string): string | undefined => {
  const root = Path.resolve(folder)
  const target = Path.resolve(root, name)
  const relative = Path.relative(root, target)
  if (relative === "" || Path.isAbsolute(relative)) return undefined
  if (relative === ".." || relative.startsWith(`..${Path.sep}`)) return undefined
  return target
}
