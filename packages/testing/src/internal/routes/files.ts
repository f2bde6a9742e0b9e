/**
 * `/files/:name`: deterministic content with ranges, validators and download faults.
 *
 * `GET` and `HEAD` `/files/:name?size=BYTES&seed=N` serve `size` pseudo-random
 * bytes that are a function of `(seed, offset)` only (see `Content.ts`),
 * with a strong `ETag`, a fixed `Last-Modified`, single byte ranges,
 * `If-Range`, and query switches for the faults downloaders must survive:
 * ranges ignored or answered wrongly, validators that change or are weak,
 * dropped connections, bodies shorter or longer than their `Content-Length`,
 * trickled bodies, gzip and gzip bombs, hostile file names, and a `HEAD`
 * refused (`head_status=405`) or lying about the length (`head_length=N`).
 *
 * **Details**
 *
 * - Well-behaved answers (and every `HEAD`) go through Effect's response
 *   writer as a lazily generated stream. Answers that must disagree with their
 *   own framing (`drop_after`, `short_by`, `long_by`) or pace their bytes
 *   (`rate`) are written to Node's response directly (`takeOver`).
 * - `state.hit("files/" + name)` counts the `GET`s of a name; `drop_times` and
 *   `mutate` read that count. A `HEAD` is not counted: it answers the headers
 *   the next `GET` would get.
 * - `long_by`: Node writes every byte it is given when `strictContentLength`
 *   is off, so the excess bytes follow the announced body on the wire. The
 *   answer carries `Connection: close` and the socket closes after the body,
 *   so the excess is never read as the next response on a reused connection.
 *
 * **Gotchas**
 *
 * - With `gzip=1` or `bomb=N` the `Range` header is ignored (the answer is the
 *   whole encoded body, with `Accept-Ranges: none`); `ignore_range=1` keeps
 *   announcing `Accept-Ranges: bytes`, which is the lie it exists to tell, and
 *   `range_gzip=1` answers a range with its bytes gzip-encoded (chunked) under
 *   the same `Content-Range` and strong `ETag`, another lie.
 * - Like `GET`, `HEAD` honours `Range` and `If-Range` (same status and headers
 *   as the `GET` would get, without the body).
 */
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Stream from "effect/Stream"
import { pipeline, Readable } from "node:stream"
import * as Zlib from "node:zlib"
import * as Content from "../../Content.ts"
import {
  badRequest,
  endResponse,
  intParam,
  methodNotAllowed,
  query,
  sleepUnlessAborted,
  takeOver,
  writeChunk
} from "../http.ts"
import * as Respond from "../respond.ts"
import type { RouteEntry } from "../routeTable.ts"
import type { ServerState } from "../state.ts"

/** Default file size: 1 MiB. */
export const defaultSize = 1024 * 1024

/** Fastest `rate` accepted, in bytes per second. */
export const maxRate = 1024 * 1024 * 1024

/** Longest `filename` accepted, in UTF-16 code units. */
export const maxFilenameLength = 1024

/** Slices per second when a body is trickled under `rate`. */
const rateSlicesPerSecond = 20

const octetStream = "application/octet-stream"

/** The query switches of one request, validated. */
interface FileOptions {
  readonly size: number
  readonly seed: number
  readonly ignoreRange: boolean
  readonly chunked: boolean
  readonly dropAfter: number | undefined
  readonly dropTimes: number | undefined
  readonly rate: number | undefined
  readonly mutate: boolean
  /** With `mutate`: the size of the changed content (a new file of another length). */
  readonly mutateSize: number | undefined
  readonly weakEtag: boolean
  readonly noEtag: boolean
  readonly noLastModified: boolean
  readonly rangeEarly: number
  readonly range200: boolean
  /** A 206's `Content-Range` ends this many bytes before the range asked; the body still runs to its end, in zeros. */
  readonly rangeShort: number
  /** 206 answers carry neither `ETag` nor `Last-Modified` (200s and `HEAD` keep them). */
  readonly rangeNoValidators: boolean
  /** A `GET` answered 200 announces this `Content-Length`, sends the real body, and closes (a `GET` that lies). */
  readonly getLength: number | undefined
  /** A 206 covers at most this many bytes of the range asked, and says so (a server that caps its ranges). */
  readonly rangeMax: number | undefined
  /** A 206's `Content-Range` gives its total as `*` (unknown). */
  readonly rangeTotalUnknown: boolean
  /** 206 answers are gzip-encoded (same `Content-Range` and `ETag`); 200s and `HEAD` stay identity. */
  readonly rangeGzip: boolean
  /** `HEAD` answers without `ETag` (`GET` unchanged). */
  readonly headNoEtag: boolean
  readonly filename: string | undefined
  readonly shortBy: number
  readonly longBy: number
  readonly gzip: boolean
  readonly bomb: number | undefined
  /** Answer `HEAD` with this status and no validators (a server that refuses or cannot answer `HEAD`). */
  readonly headStatus: number | undefined
  /** `HEAD` announces this `Content-Length` instead of the real one (a `HEAD` that lies). */
  readonly headLength: number | undefined
}

/** Reads and validates the switches; a string is the 400 message naming every bad parameter. */
const readOptions = (params: URLSearchParams): FileOptions | string => {
  const errors: Array<string> = []
  const present = (name: string): boolean => {
    const raw = params.get(name)
    return raw !== null && raw !== ""
  }
  const int = (name: string, min: number, max: number): number | undefined => {
    if (!present(name)) return undefined
    const value = intParam(params, name, undefined, min, max)
    if (value === undefined) errors.push(`${name} must be an integer from ${min} to ${max}`)
    return value
  }
  const flag = (name: string): boolean => {
    if (!present(name)) return false
    const value = intParam(params, name, undefined, 0, 1)
    if (value === undefined) errors.push(`${name} must be 0 or 1`)
    return value === 1
  }

  const options: FileOptions = {
    size: int("size", 0, Content.maxSize) ?? defaultSize,
    seed: int("seed", 0, Content.maxSeed) ?? 0,
    ignoreRange: flag("ignore_range"),
    chunked: flag("chunked"),
    dropAfter: int("drop_after", 0, Content.maxSize),
    dropTimes: int("drop_times", 1, Number.MAX_SAFE_INTEGER),
    rate: int("rate", 1, maxRate),
    mutate: flag("mutate"),
    mutateSize: int("mutate_size", 0, Content.maxSize),
    weakEtag: flag("weak_etag"),
    noEtag: flag("no_etag"),
    noLastModified: flag("no_last_modified"),
    rangeEarly: int("range_early", 0, Content.maxSize) ?? 0,
    range200: flag("range_200"),
    rangeShort: int("range_short", 0, Content.maxSize) ?? 0,
    rangeNoValidators: flag("range_no_validators"),
    getLength: int("get_length", 0, Number.MAX_SAFE_INTEGER),
    rangeMax: int("range_max", 1, Content.maxSize),
    rangeTotalUnknown: flag("range_total_unknown"),
    rangeGzip: flag("range_gzip"),
    headNoEtag: flag("head_no_etag"),
    filename: params.get("filename") ?? undefined,
    shortBy: int("short_by", 0, Content.maxSize) ?? 0,
    longBy: int("long_by", 0, Content.maxSize) ?? 0,
    gzip: flag("gzip"),
    bomb: int("bomb", 0, Content.maxSize),
    headStatus: int("head_status", 200, 599),
    headLength: int("head_length", 0, Number.MAX_SAFE_INTEGER)
  }

  const { filename } = options
  if (filename !== undefined) {
    if (/[\r\n\0]/.test(filename)) errors.push("filename must not contain CR, LF or NUL")
    else if (filename.length > maxFilenameLength) {
      errors.push(`filename must be at most ${maxFilenameLength} characters`)
    } else if (!filename.isWellFormed()) errors.push("filename must be well-formed Unicode")
  }
  if (options.dropTimes !== undefined && options.dropAfter === undefined) {
    errors.push("drop_times needs drop_after")
  }
  if (options.mutateSize !== undefined && !options.mutate) errors.push("mutate_size needs mutate=1")
  const rangeSwitches = [options.ignoreRange, options.rangeEarly > 0, options.range200, options.rangeShort > 0]
    .filter(Boolean).length
  if (rangeSwitches > 1) errors.push("ignore_range, range_early, range_200 and range_short exclude each other")
  if (
    options.getLength !== undefined &&
    (options.chunked || options.gzip || options.bomb !== undefined || options.shortBy > 0 || options.longBy > 0)
  ) {
    errors.push("get_length excludes chunked, gzip, bomb, short_by and long_by")
  }
  if (options.shortBy > 0 && options.longBy > 0) errors.push("short_by and long_by exclude each other")
  if (options.rangeGzip && (options.gzip || options.bomb !== undefined || options.rangeShort > 0)) {
    errors.push("range_gzip excludes gzip, bomb and range_short")
  }
  if (options.gzip && options.bomb === undefined && options.shortBy > 0) {
    errors.push("short_by needs a known body length, so not gzip=1 (the gzip length is unknown in advance)")
  }
  if (options.longBy > 0 && (options.chunked || (options.gzip && options.bomb === undefined))) {
    errors.push("long_by needs a Content-Length, so not chunked=1 or gzip=1")
  }
  return errors.length > 0 ? errors.join("; ") : options
}

// --- ranges -----------------------------------------------------------------

/** What a `Range` header asks for, resolved against the size. `end` is inclusive. */
type RangeRequest =
  | { readonly kind: "None" }
  | { readonly kind: "Unsatisfiable" }
  | { readonly kind: "Range"; readonly start: number; readonly end: number }

const noRange: RangeRequest = { kind: "None" }
const unsatisfiable: RangeRequest = { kind: "Unsatisfiable" }

/**
 * Resolves a single `bytes=` range (RFC 9110 §14.1.2). A missing, malformed or
 * multi-range header gives `None`, so the whole body is served, as the RFC allows.
 */
export const parseRange = (header: string | undefined, size: number): RangeRequest => {
  if (header === undefined) return noRange
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (match === null) return noRange
  const [, first = "", last = ""] = match
  if (first === "" && last === "") return noRange
  if (first === "") {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return unsatisfiable
    return { kind: "Range", start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  if (last !== "" && Number(last) < start) return noRange
  if (start >= size) return unsatisfiable
  return { kind: "Range", start, end: last === "" ? size - 1 : Math.min(size - 1, Number(last)) }
}

/** Whether an `If-Range` value still designates the current representation (RFC 9110 §13.1.5). */
const ifRangeMatches = (value: string, strongTag: string | undefined, modified: Date | undefined): boolean => {
  const trimmed = value.trim()
  if (trimmed.startsWith("W/")) return false
  if (trimmed.startsWith("\"")) return strongTag !== undefined && trimmed === strongTag
  const date = Date.parse(trimmed)
  return modified !== undefined && !Number.isNaN(date) && date === modified.getTime()
}

// --- headers ----------------------------------------------------------------

/** RFC 8187 `attr-char`s stay, everything else is percent-encoded as UTF-8. */
const encodeExtValue = (value: string): string =>
  encodeURIComponent(value).replace(/['()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * `attachment; filename="…"` with `"` and `\` escaped and anything but
 * printable ASCII replaced by `_`, plus `filename*=UTF-8''…` when the name is
 * not printable ASCII. The caller has refused CR, LF and NUL already.
 */
export const contentDisposition = (filename: string): string => {
  const fallback = filename.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "\\$&")
  const value = `attachment; filename="${fallback}"`
  return /^[\x20-\x7e]*$/.test(filename) ? value : `${value}; filename*=UTF-8''${encodeExtValue(filename)}`
}

// --- planning ---------------------------------------------------------------

type Body = Iterable<Uint8Array> | AsyncIterable<Uint8Array>

/** Everything needed to write one answer, whichever writer writes it. */
interface Plan {
  readonly status: number
  /** Lower-case names; no `content-length`, `content-type` or `connection`. */
  readonly headers: Record<string, string>
  /** The announced `Content-Length`; `undefined` for chunked. */
  readonly announced: number | undefined
  /** Produces the body lazily; called at most once. */
  readonly body: () => Body
  /** Stop after this many body bytes and destroy the connection. */
  readonly limit: number | undefined
  /** Send at this many bytes per second. */
  readonly rate: number | undefined
  /** The body is longer than announced: close the connection after it. */
  readonly longer: boolean
}

const emptyBody = (): Body => []

/**
 * The content gzip-encoded on the fly. Huffman-only: the content is random,
 * so searching for matches would only cost time (three times as much).
 */
const gzipped = (source: Iterable<Uint8Array>): AsyncIterable<Uint8Array> =>
  pipeline(
    Readable.from(source, { objectMode: false }),
    Zlib.createGzip({ level: 1, strategy: Zlib.constants.Z_HUFFMAN_ONLY }),
    () => {}
  )

const planResponse = (
  name: string,
  options: FileOptions,
  count: number,
  request: HttpServerRequest.HttpServerRequest
): Plan => {
  const mutated = options.mutate && count >= 2
  const seed = mutated ? Content.mutatedSeed(options.seed) : options.seed
  const encoding = options.bomb !== undefined ? "bomb" : options.gzip ? "gzip" : "identity"
  const size = options.bomb ?? (mutated ? options.mutateSize ?? options.size : options.size)
  const strongTag = Content.entityTag({ name, size, seed, encoding })
  const modified = Content.lastModified(seed)

  const headers: Record<string, string> = {
    "accept-ranges": encoding === "identity" ? "bytes" : "none"
  }
  if (!options.noEtag) headers.etag = options.weakEtag ? `W/${strongTag}` : strongTag
  if (!options.noLastModified) headers["last-modified"] = modified.toUTCString()
  if (options.filename !== undefined) headers["content-disposition"] = contentDisposition(options.filename)
  if (encoding !== "bomb") headers["x-content-seed"] = String(seed)

  let status = 200
  let body: () => Body
  let bodyLength: number | undefined
  if (encoding !== "identity") {
    headers["content-encoding"] = "gzip"
    if (options.bomb !== undefined) {
      const zeros = options.bomb
      body = () => Content.gzipBomb(zeros)
      bodyLength = Content.gzipBombLength(zeros)
    } else {
      body = () => gzipped(Content.chunks(seed, 0, size))
      bodyLength = undefined
    }
  } else {
    let range = options.ignoreRange ? noRange : parseRange(request.headers["range"], size)
    const ifRange = request.headers["if-range"]
    if (range.kind !== "None" && ifRange !== undefined) {
      const validTag = options.noEtag || options.weakEtag ? undefined : strongTag
      if (!ifRangeMatches(ifRange, validTag, options.noLastModified ? undefined : modified)) range = noRange
    }
    let start = 0
    let end = size
    if (range.kind === "Unsatisfiable") {
      headers["content-range"] = `bytes */${size}`
      return { status: 416, headers, announced: 0, body: emptyBody, limit: undefined, rate: undefined, longer: false }
    }
    if (range.kind === "Range" && options.range200) {
      headers["content-range"] = `bytes ${range.start}-${range.end}/${size}`
    } else if (range.kind === "Range") {
      status = 206
      start = Math.max(0, range.start - options.rangeEarly)
      end = options.rangeMax === undefined ? range.end + 1 : Math.min(range.end + 1, start + options.rangeMax)
      headers["content-range"] = `bytes ${start}-${end - 1}/${options.rangeTotalUnknown ? "*" : size}`
      if (options.rangeNoValidators) {
        delete headers.etag
        delete headers["last-modified"]
      }
    }
    // `range_short`: the range announced stops short (at least one byte stays announced); zeros run to the end.
    const announcedEnd = status === 206 && options.rangeShort > 0
      ? Math.max(start + 1, end - options.rangeShort)
      : end
    if (announcedEnd < end) {
      headers["content-range"] = `bytes ${start}-${announcedEnd - 1}/${options.rangeTotalUnknown ? "*" : size}`
    }
    const from = start
    body = announcedEnd < end
      ? function*() {
        yield* Content.chunks(seed, from, announcedEnd)
        yield new Uint8Array(end - announcedEnd)
      }
      : () => Content.chunks(seed, from, end)
    bodyLength = end - start
    if (status === 206 && options.rangeGzip) {
      // The range's bytes gzip-encoded, under the same Content-Range and ETag: another representation that
      // claims to continue this one.
      headers["content-encoding"] = "gzip"
      body = () => gzipped(Content.chunks(seed, from, end))
      bodyLength = undefined
    }
  }

  const limits: Array<number> = []
  const drops = options.dropTimes === undefined || count <= options.dropTimes
  if (options.dropAfter !== undefined && drops) limits.push(options.dropAfter)
  if (options.shortBy > 0 && bodyLength !== undefined) limits.push(Math.max(0, bodyLength - options.shortBy))
  // `get_length`: the real body, then the connection closes, whatever the length announced.
  const lies = options.getLength !== undefined && status === 200 && request.method === "GET"
  if (lies && bodyLength !== undefined) limits.push(bodyLength)
  return {
    status,
    headers,
    announced: lies
      ? options.getLength
      : options.chunked || bodyLength === undefined
      ? undefined
      : Math.max(0, bodyLength - options.longBy),
    body,
    limit: limits.length > 0 ? Math.min(...limits) : undefined,
    rate: options.rate,
    longer: options.longBy > 0 || (lies && bodyLength !== undefined && options.getLength! < bodyLength)
  }
}

// --- writers ----------------------------------------------------------------

const isAsync = (body: Body): body is AsyncIterable<Uint8Array> => Symbol.asyncIterator in body

const bodyStream = (body: () => Body): Stream.Stream<Uint8Array, unknown> =>
  Stream.suspend(() => {
    const source = body()
    return isAsync(source)
      ? Stream.fromAsyncIterable(source, (error) => error)
      : Stream.fromIterable(source, { chunkSize: 1 })
  })

/** A well-behaved answer, written by Effect's response writer (which also answers `HEAD`). */
const respond = (plan: Plan): HttpServerResponse.HttpServerResponse =>
  plan.status === 416
    ? Respond.empty({ status: 416, headers: { ...plan.headers, "content-length": "0" } })
    : Respond.stream(bodyStream(plan.body), {
      status: plan.status,
      headers: plan.headers,
      contentType: octetStream,
      contentLength: plan.announced
    })

/**
 * An answer that breaks its framing or paces its bytes, written to Node's
 * response directly. Every wait ends when the client goes away.
 */
const respondRaw = (plan: Plan) =>
  takeOver(async (response, signal) => {
    const headers: Record<string, string> = { ...plan.headers, "content-type": octetStream }
    if (plan.announced !== undefined) headers["content-length"] = String(plan.announced)
    if (plan.longer) headers.connection = "close"
    response.writeHead(plan.status, headers)

    const { limit, rate } = plan
    const slice = rate === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.ceil(rate / rateSlicesPerSecond))
    const started = Date.now()
    let sent = 0
    /** Under `rate`, waits until `sent` bytes are due; false once the client is gone. */
    const pace = async (): Promise<boolean> => {
      if (rate !== undefined) {
        const wait = started + (sent * 1000) / rate - Date.now()
        if (wait > 0) await sleepUnlessAborted(wait, signal)
      }
      return !signal.aborted && !response.destroyed
    }

    const pump = async (): Promise<boolean> => {
      for await (const chunk of plan.body()) {
        let offset = 0
        while (offset < chunk.length) {
          if (limit !== undefined && sent >= limit) return true
          if (!(await pace())) return false
          const length = Math.min(
            chunk.length - offset,
            slice,
            limit === undefined ? Number.POSITIVE_INFINITY : limit - sent
          )
          await writeChunk(response, chunk.subarray(offset, offset + length))
          offset += length
          sent += length
        }
      }
      return true
    }

    if (!(await pump())) return
    if (limit !== undefined && sent >= limit) {
      // An empty write resolves once everything before it (the head, at least) reached the socket.
      await writeChunk(response, new Uint8Array(0))
      response.destroy()
      return
    }
    if (!(await pace())) return
    await endResponse(response)
  })

/** Whether the answer needs Node's response directly. */
const needsRaw = (plan: Plan): boolean => plan.limit !== undefined || plan.rate !== undefined || plan.longer

export const routes = (state: ServerState): ReadonlyArray<RouteEntry> => [
  {
    methods: "*",
    serves: ["GET", "HEAD"],
    path: "/files/:name",
    summary: "deterministic bytes with ranges, validators and download faults",
    switches: {
      size: "bytes, 0 to 16 GiB, default 1048576",
      seed: "content seed, default 0",
      ignore_range: "1: always 200 with the whole body",
      chunked: "1: no Content-Length",
      drop_after: "N: the connection drops after N body bytes",
      drop_times: "k: only the first k GETs drop",
      rate: "bytes per second: a trickled body",
      mutate: "1: content and validators change from the second GET on",
      mutate_size: "bytes: with mutate=1, the changed content has this length",
      weak_etag: "1: a weak ETag only",
      no_etag: "1: no ETag",
      no_last_modified: "1: no Last-Modified",
      range_early: "N: a 206 that starts N bytes early",
      range_200: "1: a range answered with 200 and the whole body",
      range_short: "N: a 206 whose Content-Range ends N bytes early, zeros to the end of the range asked",
      range_no_validators: "1: 206 answers without ETag or Last-Modified",
      get_length: "N: a GET answered 200 announces Content-Length: N",
      range_max: "N: a 206 covers at most N bytes of the range asked",
      range_total_unknown: "1: a 206's Content-Range total is *",
      range_gzip: "1: 206 answers gzip-encoded, same Content-Range and ETag",
      head_no_etag: "1: HEAD answers without ETag",
      filename: "Content-Disposition: attachment; filename=...",
      short_by: "N: a body N bytes shorter than its Content-Length",
      long_by: "N: a body N bytes longer than its Content-Length",
      gzip: "1: Content-Encoding: gzip",
      bomb: "N: gzip that inflates to N zero bytes",
      head_status: "S: HEAD answered with status S",
      head_length: "N: HEAD announces Content-Length: N"
    },
    handler: Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed(["GET", "HEAD"])
      const name = (yield* HttpRouter.params).name ?? ""
      const options = readOptions(yield* query)
      if (typeof options === "string") return badRequest(options)
      const key = `files/${name}`
      const head = request.method === "HEAD"
      if (head && options.headStatus !== undefined) {
        return Respond.empty({ status: options.headStatus, headers: { "content-length": "0" } })
      }
      // A HEAD answers what the next GET would get, without counting as one.
      const count = head ? (state.hits.get(key) ?? 0) + 1 : state.hit(key)
      const plan = planResponse(name, options, count, request)
      if (head && options.headNoEtag) delete plan.headers.etag
      if (head && options.headLength !== undefined && plan.status === 200) {
        return Respond.empty({
          status: 200,
          headers: { ...plan.headers, "content-type": octetStream, "content-length": String(options.headLength) }
        })
      }
      return head || plan.status === 416 || !needsRaw(plan) ? respond(plan) : yield* respondRaw(plan)
    })
  }
]
