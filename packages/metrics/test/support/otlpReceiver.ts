/**
 * A local OTLP/HTTP receiver for tests: a `node:http` server on a free
 * loopback port that records every POST to `/v1/metrics`, `/v1/traces` and
 * `/v1/logs`, decodes JSON bodies (gzip too), and answers 200 `{}` as a
 * collector does. Protobuf bodies are kept as bytes. `makeTls` serves HTTPS
 * with a certificate of the test's choosing, and counts TLS connections.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import * as Zlib from "node:zlib"

/** One POST as received. */
export interface Received {
  readonly path: string
  readonly contentType: string
  readonly headers: Http.IncomingHttpHeaders
  /** The body after `Content-Encoding` is undone. */
  readonly bytes: Buffer
  /** The body parsed as JSON, when it was JSON. */
  readonly json: unknown
}

/** An OTLP `AnyValue` as JSON carries it. */
export interface AnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  readonly intValue?: number | string
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values: ReadonlyArray<AnyValue> }
}

export interface KeyValue {
  readonly key: string
  readonly value: AnyValue
}

export interface DataPoint {
  readonly attributes: ReadonlyArray<KeyValue>
  readonly asInt?: number | string
  readonly asDouble?: number
  readonly count?: number | string
  readonly sum?: number
  readonly bucketCounts?: ReadonlyArray<number | string>
  readonly explicitBounds?: ReadonlyArray<number>
  readonly min?: number
  readonly max?: number
}

export interface Metric {
  readonly name: string
  readonly description?: string
  readonly unit?: string
  readonly sum?: {
    readonly dataPoints: ReadonlyArray<DataPoint>
    readonly isMonotonic: boolean
    readonly aggregationTemporality: number
  }
  readonly gauge?: { readonly dataPoints: ReadonlyArray<DataPoint> }
  readonly histogram?: { readonly dataPoints: ReadonlyArray<DataPoint>; readonly aggregationTemporality: number }
}

export interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly attributes: ReadonlyArray<KeyValue>
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: ReadonlyArray<KeyValue> }>
  readonly status: { readonly code: number; readonly message?: string }
}

export interface LogRecord {
  readonly severityText: string
  readonly body: AnyValue
  readonly attributes: ReadonlyArray<KeyValue>
  readonly traceId?: string
  readonly spanId?: string
}

export interface Receiver {
  /** The base URL to give the exporter (`http://127.0.0.1:<port>`, `https://` from `makeTls`). */
  readonly url: string
  /** TCP connections accepted (for `makeTls`, TLS handshakes begun). */
  readonly connections: () => number
  /** Every POST so far, oldest first. */
  readonly received: () => ReadonlyArray<Received>
  /** Every metric of every JSON export to `/v1/metrics`, oldest first (a metric repeats per export). */
  readonly metrics: () => ReadonlyArray<Metric>
  /** Every span of every JSON export to `/v1/traces`. */
  readonly spans: () => ReadonlyArray<Span>
  /** Every log record of every JSON export to `/v1/logs`. */
  readonly logs: () => ReadonlyArray<LogRecord>
  /** The resource attributes of every JSON export. */
  readonly resources: () => ReadonlyArray<Readonly<Record<string, unknown>>>
}

/** An attribute list as a plain record (`intValue` as a number). */
export const attributesOf = (list: ReadonlyArray<KeyValue> | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const { key, value } of list ?? []) out[key] = valueOf(value)
  return out
}

export const valueOf = (value: AnyValue): unknown =>
  value.stringValue ?? value.boolValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
    value.doubleValue ?? value.arrayValue?.values.map(valueOf)

interface Resourced {
  readonly resource: { readonly attributes: ReadonlyArray<KeyValue> }
}
interface MetricsBody {
  readonly resourceMetrics: ReadonlyArray<
    { readonly scopeMetrics: ReadonlyArray<{ readonly metrics: ReadonlyArray<Metric> }> }
  >
}
interface TracesBody {
  readonly resourceSpans: ReadonlyArray<{ readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<Span> }> }>
}
interface LogsBody {
  readonly resourceLogs: ReadonlyArray<
    { readonly scopeLogs: ReadonlyArray<{ readonly logRecords: ReadonlyArray<LogRecord> }> }
  >
}

const decode = (bytes: Buffer, encoding: string | undefined): Buffer =>
  encoding === "gzip" ? Zlib.gunzipSync(bytes) : bytes

/** Starts a receiver, over HTTPS with `tls`; it stops when the scope closes. */
const start = (tls?: { readonly key: string; readonly cert: string }): Effect.Effect<Receiver, never, Scope.Scope> =>
  Effect.gen(function*() {
    const received: Array<Received> = []
    let connections = 0
    const handler = (request: Http.IncomingMessage, response: Http.ServerResponse) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        const bytes = decode(Buffer.concat(chunks), request.headers["content-encoding"])
        const contentType = request.headers["content-type"] ?? ""
        let json: unknown = undefined
        if (contentType.includes("json")) json = JSON.parse(bytes.toString("utf8"))
        received.push({ path: request.url ?? "", contentType, headers: request.headers, bytes, json })
        response.writeHead(200, { "content-type": "application/json" })
        response.end("{}")
      })
    }
    const server = tls === undefined ? Http.createServer(handler) : Https.createServer(tls, handler)
    server.on("connection", () => connections++)
    // A client that refuses the certificate ends the handshake: not a fault of the receiver.
    server.on("tlsClientError", () => {})
    const port = yield* Effect.acquireRelease(
      Effect.callback<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      }),
      () =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    const bodies = <A>(path: string) =>
      received.filter((entry) => entry.path === path && entry.json !== undefined).map((entry) => entry.json as A)
    return {
      url: `${tls === undefined ? "http" : "https"}://127.0.0.1:${port}`,
      connections: () => connections,
      received: () => [...received],
      metrics: () =>
        bodies<MetricsBody>("/v1/metrics").flatMap((body) =>
          body.resourceMetrics.flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))
        ),
      spans: () =>
        bodies<TracesBody>("/v1/traces").flatMap((body) =>
          body.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans))
        ),
      logs: () =>
        bodies<LogsBody>("/v1/logs").flatMap((body) =>
          body.resourceLogs.flatMap((resource) => resource.scopeLogs.flatMap((scope) => scope.logRecords))
        ),
      resources: () =>
        received.flatMap((entry) =>
          entry.json === undefined ? [] : Object.values(entry.json as Record<string, ReadonlyArray<Resourced>>).flatMap(
            (resources) => resources.map((resource) => attributesOf(resource.resource.attributes))
          )
        )
    }
  })

/** Starts a receiver; it stops when the scope closes. */
export const make: Effect.Effect<Receiver, never, Scope.Scope> = start()

/** Starts an HTTPS receiver presenting `certificate`; it stops when the scope closes. */
export const makeTls = (certificate: { readonly key: string; readonly cert: string }) => start(certificate)

/** One request to a receiver that does not answer. */
export interface Stalled {
  readonly path: string
  /** When it arrived (`performance.now()`). */
  readonly at: number
  /** When it was answered or its connection closed, if it has been. */
  readonly endedAt: number | undefined
}

/** A receiver that accepts connections and reads requests but answers none (or answers as told). */
export interface Stalling {
  readonly url: string
  /** TCP connections accepted so far. */
  readonly connections: () => number
  /** TCP connections open now. */
  readonly open: () => number
  /** Every request so far, oldest first. */
  readonly requests: () => ReadonlyArray<Stalled>
  /** The most requests to `path` that were open at once. */
  readonly maxInFlight: (path: string) => number
}

/**
 * Starts a receiver that never answers, or answers each request with
 * `answer` (a status and headers) once its body is read; it stops, with its
 * connections, when the scope closes. It never times a request out itself.
 */
export const makeStalling = (
  answer?: { readonly status: number; readonly headers: Readonly<Record<string, string>> }
): Effect.Effect<Stalling, never, Scope.Scope> =>
  Effect.gen(function*() {
    const requests: Array<{ path: string; at: number; endedAt: number | undefined }> = []
    const inFlight = new Map<string, number>()
    const most = new Map<string, number>()
    let connections = 0
    let open = 0
    const server = Http.createServer(
      { headersTimeout: 0, requestTimeout: 0, keepAliveTimeout: 0 },
      (request, response) => {
        const path = request.url ?? ""
        const entry = { path, at: performance.now(), endedAt: undefined as number | undefined }
        requests.push(entry)
        const now = (inFlight.get(path) ?? 0) + 1
        inFlight.set(path, now)
        most.set(path, Math.max(most.get(path) ?? 0, now))
        const end = () => {
          if (entry.endedAt !== undefined) return
          entry.endedAt = performance.now()
          inFlight.set(path, (inFlight.get(path) ?? 1) - 1)
        }
        request.socket.once("close", end)
        response.once("finish", end)
        request.resume()
        if (answer !== undefined) {
          request.once("end", () => {
            response.writeHead(answer.status, answer.headers)
            response.end()
          })
        }
      }
    )
    server.on("connection", (socket) => {
      connections++
      open++
      socket.once("close", () => open--)
    })
    const port = yield* Effect.acquireRelease(
      Effect.callback<number>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as AddressInfo).port)))
      }),
      () =>
        Effect.callback<void>((resume) => {
          server.close(() => resume(Effect.void))
          server.closeAllConnections()
        })
    )
    return {
      url: `http://127.0.0.1:${port}`,
      connections: () => connections,
      open: () => open,
      requests: () => requests.map((entry) => ({ ...entry })),
      maxInFlight: (path) => most.get(path) ?? 0
    }
  })
