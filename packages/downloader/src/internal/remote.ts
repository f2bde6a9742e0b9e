/**
 * What a response says about the file on the server: its length, its
 * validators (`ETag`, `Last-Modified`), its content coding, whether it takes
 * ranges, and the range a `206` or `416` carries (`Content-Range`, RFC 9110
 * §14.4).
 */
import type * as Headers from "effect/http/Headers"

/** What the server said about the file. */
export interface Remote {
  /** The whole file's length, when known. */
  readonly size: number | undefined
  /** The `ETag` as sent, weak or strong. */
  readonly etag: string | undefined
  /** `Last-Modified`, only when it is a strong validator (`strongLastModified`). */
  readonly lastModified: string | undefined
  /** Whether the server announced `Accept-Ranges: bytes`. */
  readonly acceptsRanges: boolean
  readonly contentDisposition: string | undefined
  /**
   * The content coding of the bytes sent (`Content-Encoding`, normalised by `codingOf`): `"identity"`, or
   * `"gzip"`, `"br"`... The bytes are stored as sent, never decoded, so bytes of two codings are never joined.
   */
  readonly coding: string
}

/** The coding of a response without `Content-Encoding`: the bytes are the representation's own. */
export const identity = "identity"

/** Codings RFC 9110 §8.4.1 says a recipient takes as the same as another. */
const sameCoding = new Map([["x-gzip", "gzip"], ["x-compress", "compress"]])

/**
 * The content coding a `Content-Encoding` value names, normalised so that
 * two spellings of one coding compare equal: lower case, spaces dropped,
 * `identity` entries dropped (`x-gzip` is `gzip`), the codings in the order
 * applied, joined by `,`; `"identity"` when absent or empty. (A header sent
 * twice arrives as one value, joined by `,`: both count.)
 */
export const codingOf = (value: string | undefined): string => {
  if (value === undefined) return identity
  const codings = value.split(",")
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== "" && coding !== identity)
    .map((coding) => sameCoding.get(coding) ?? coding)
  return codings.length === 0 ? identity : codings.join(",")
}

/** Whether the bytes sent are coded (compressed), not the representation's own. */
export const isEncoded = (remote: Pick<Remote, "coding">): boolean => remote.coding !== identity

/** A parsed `Content-Range`: `bytes first-last/total` or `bytes * /total`; `total` undefined for `*`. */
export type ContentRange =
  | { readonly kind: "range"; readonly first: number; readonly last: number; readonly total: number | undefined }
  | { readonly kind: "unsatisfied"; readonly total: number }

const decimal = (text: string): number | undefined => {
  if (!/^\d{1,16}$/.test(text)) return undefined
  const value = Number(text)
  return Number.isSafeInteger(value) ? value : undefined
}

/** Parses `Content-Range`; `undefined` when it is malformed. */
export const parseContentRange = (header: string | undefined): ContentRange | undefined => {
  if (header === undefined) return undefined
  const match = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(header)
  if (match === null) return undefined
  const [, firstText, lastText, totalText = ""] = match
  const total = totalText === "*" ? undefined : decimal(totalText)
  if (totalText !== "*" && total === undefined) return undefined
  if (firstText === undefined || lastText === undefined) {
    return total === undefined ? undefined : { kind: "unsatisfied", total }
  }
  const first = decimal(firstText)
  const last = decimal(lastText)
  if (first === undefined || last === undefined || last < first) return undefined
  if (total !== undefined && last >= total) return undefined
  return { kind: "range", first, last, total }
}

/** A header's single value (a repeated header is treated as absent: it cannot be trusted). */
const single = (headers: Headers.Headers, name: string): string | undefined => {
  const value = headers[name]
  return typeof value === "string" && value !== "" ? value : undefined
}

/** `Content-Length`, when it is one well-formed number. */
export const contentLength = (headers: Headers.Headers): number | undefined => {
  const value = single(headers, "content-length")
  return value === undefined ? undefined : decimal(value.trim())
}

/** Whether an `ETag` is strong (not `W/`), so that byte ranges may be joined under it (RFC 9110 §8.8.1). */
export const isStrong = (etag: string | undefined): etag is string =>
  etag !== undefined && !etag.startsWith("W/") && /^"[^"]*"$/.test(etag)

/**
 * The response's `Last-Modified` when it can serve as a strong validator:
 * the response's `Date` is at least one second after it (RFC 9110 §8.8.2.2),
 * so a file changed again within the same second cannot pass for the same
 * one. Otherwise (no `Date`, a date that does not parse, a file modified
 * in the second it was served) `undefined`: bytes are not joined under it.
 */
export const strongLastModified = (headers: Headers.Headers): string | undefined => {
  const lastModified = single(headers, "last-modified")
  const date = single(headers, "date")
  if (lastModified === undefined || date === undefined) return undefined
  const modifiedAt = Date.parse(lastModified)
  const servedAt = Date.parse(date)
  return Number.isFinite(modifiedAt) && Number.isFinite(servedAt) && servedAt - modifiedAt >= 1_000
    ? lastModified
    : undefined
}

/** What a `HEAD`, `200` or `206` says about the whole file. */
export const fromResponse = (status: number, headers: Headers.Headers): Remote => {
  const range = status === 206 || status === 416 ? parseContentRange(single(headers, "content-range")) : undefined
  const size = range === undefined ? (status === 200 ? contentLength(headers) : undefined) : range.total
  const encoding = headers["content-encoding"]
  return {
    size,
    etag: single(headers, "etag"),
    lastModified: strongLastModified(headers),
    acceptsRanges: single(headers, "accept-ranges")?.trim().toLowerCase() === "bytes",
    contentDisposition: single(headers, "content-disposition"),
    coding: codingOf(typeof encoding === "string" ? encoding : undefined)
  }
}

/**
 * Whether bytes received under these validators may be joined to bytes
 * received later (RELIABILITY 3): a strong `ETag`, or, from a server that
 * sends no `ETag` at all, a strong `Last-Modified` (`strongLastModified`). A
 * weak `ETag` or no validator means a broken body starts over from zero.
 */
export const joinable = (remote: Pick<Remote, "etag" | "lastModified">): boolean =>
  remote.etag === undefined ? remote.lastModified !== undefined : isStrong(remote.etag)

/**
 * The validator for `If-Range`: a strong `ETag`, else `Last-Modified` (RFC
 * 9110 §13.1.5 allows a date); none when the file has neither, and then a
 * resumed range is trusted only by its length and `Content-Range`.
 */
export const ifRangeOf = (remote: Pick<Remote, "etag" | "lastModified">): string | undefined =>
  isStrong(remote.etag) ? remote.etag : remote.lastModified

/**
 * Why `now` is not the same file as `before`, or `undefined` when nothing
 * shows a change: another strong `ETag`, a weak one where a strong was
 * (ranges cannot be joined under it), another `Last-Modified` when there is
 * no strong `ETag` on either side, another length.
 */
export const changeBetween = (
  before: Pick<Remote, "etag" | "lastModified" | "size">,
  now: Pick<Remote, "etag" | "lastModified" | "size">
): string | undefined => {
  if (before.size !== undefined && now.size !== undefined && before.size !== now.size) {
    return `the length changed from ${before.size} to ${now.size} bytes`
  }
  if (isStrong(before.etag)) {
    if (now.etag === undefined) return undefined
    if (!isStrong(now.etag)) return "the ETag became weak"
    return now.etag === before.etag ? undefined : "the ETag changed"
  }
  if (before.etag !== undefined && now.etag !== undefined && before.etag !== now.etag) return "the ETag changed"
  if (before.lastModified !== undefined && now.lastModified !== undefined && before.lastModified !== now.lastModified) {
    return "Last-Modified changed"
  }
  return undefined
}

/**
 * Why a `206` may not be joined to the bytes received under `before`, or
 * `undefined` when it may (RELIABILITY 3 and 4): the same length, the same
 * content coding as the bytes already written (a gzip-encoded `206` is not
 * the next bytes of a file stored plain, whatever its `ETag` says), and the
 * same validator the bytes were joined under, carried by the `206` itself.
 * Under a strong `ETag`, the `206` must repeat it (a `206` without one, or
 * with only a `Last-Modified`, proves nothing about its bytes); without an
 * `ETag`, it must repeat the `Last-Modified` and bring no `ETag` either (two
 * segments under two `ETag`s and one date would be two versions).
 */
export const joinChange = (
  before: Pick<Remote, "etag" | "lastModified" | "size" | "coding">,
  now: Pick<Remote, "etag" | "lastModified" | "size" | "coding">
): string | undefined => {
  const change = changeBetween(before, now)
  if (change !== undefined) return change
  if (now.coding !== before.coding) return `the content coding changed from ${before.coding} to ${now.coding}`
  if (isStrong(before.etag)) return now.etag === undefined ? "the 206 carried no ETag" : undefined
  // Bytes joined under a `Last-Modified` alone: a 206 naming an `ETag` may be another version with the same date.
  if (before.etag === undefined && now.etag !== undefined) return "the 206 carried an ETag the file had not"
  if (before.etag === undefined && before.lastModified !== undefined && now.lastModified === undefined) {
    return "the 206 carried no Last-Modified"
  }
  return undefined
}
