/**
 * What the fault-injection server saw of one request, as `GET /__requests`
 * lists it. Tests assert on these records, not on what the client believes it
 * sent.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * One request as it crossed the wire.
 *
 * @category models
 * @since 0.1.0
 */
export const RecordedRequest = Schema.Struct({
  /** Which listener received it: the HTTP server or the raw-socket mode. */
  listener: Schema.Literals(["http", "raw"]),
  /** The protocol version the request came in: `1.1`, `1.0` or `2.0`. */
  httpVersion: Schema.String,
  method: Schema.String,
  /** The path without the query string. */
  path: Schema.String,
  /** The query string without the leading `?`, or an empty string. */
  query: Schema.String,
  /** Header names in lower case; repeated headers joined with `, `. */
  headers: Schema.Record(Schema.String, Schema.String),
  /** Arrival time in milliseconds since the epoch. */
  arrivedAt: Schema.Number,
  /**
   * Which connection carried it: a sequence number (1, 2, 3...) this server
   * gives each socket it accepts, on either listener, and never reuses, not
   * even after `reset`. Requests with the same number shared one TCP
   * connection (HTTP/1.1 keep-alive) or one HTTP/2 session; an https
   * connection is numbered once its TLS handshake completes.
   */
  connection: Schema.Int
})

/**
 * One request as it crossed the wire.
 *
 * @category models
 * @since 0.1.0
 */
export type RecordedRequest = typeof RecordedRequest.Type

/**
 * The JSON body of `GET /__requests`.
 *
 * @category models
 * @since 0.1.0
 */
export const RecordedRequests = Schema.Array(RecordedRequest)
