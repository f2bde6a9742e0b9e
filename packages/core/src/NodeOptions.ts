/**
 * The names Node reads from the option objects it is given, so that what
 * httpkit hands to Node holds every one of them as its own, and the table of
 * listeners of the sockets and streams it makes, so that no event name is
 * looked up on `Object.prototype` (RELIABILITY 10).
 *
 * Node copies connection and request options into object literals
 * (`{ ...options }`) and reads dozens of names from the copies: an option that
 * is not an own property of what it was given is then read from
 * `Object.prototype`, so a polluted `socketPath` or `path` sends every request
 * to a UNIX socket and a polluted `ca` or `secureContext` trusts another
 * certificate. An options object built with `Own.pinned(names, fields)` names
 * each of them, with `undefined` where Node's default is wanted, and the copies
 * keep them. Likewise a socket or stream keeps its listeners in an object
 * literal that names only a few events: `pinEvents` gives it a table without
 * a prototype before anything else listens or emits.
 *
 * **Gotchas**
 *
 * - The lists are Node 24's (`node:net`, `node:tls`, `node:http`,
 *   `node:https`, `node:stream`). A Node release that reads a new option is
 *   found by the pollution tests of the packages that use them
 *   (`@httpkit/client`'s connector, `@httpkit/metrics`' exporters).
 * - Left out on purpose: `rejectUnauthorized` (always given), and `ciphers`,
 *   `checkServerIdentity` and `minDHSize`, which `tls.connect` sets as own
 *   properties of its copy before the caller's are spread over it (an own
 *   `undefined` would replace Node's default).
 *
 * @since 0.1.0
 */

/**
 * Every option `net.connect` reads (the socket, its stream and its lookup).
 *
 * @category models
 * @since 0.1.0
 */
export const netConnectOptions: ReadonlyArray<string> = [
  "allowHalfOpen",
  "autoDestroy",
  "autoSelectFamily",
  "autoSelectFamilyAttemptTimeout",
  "blockList",
  "construct",
  "decodeStrings",
  "defaultEncoding",
  "destroy",
  "emitClose",
  "encoding",
  "family",
  "fd",
  "final",
  "handle",
  "highWaterMark",
  "hints",
  "host",
  "keepAlive",
  "keepAliveInitialDelay",
  "localAddress",
  "localPort",
  "lookup",
  "manualStart",
  "noDelay",
  "objectMode",
  "onread",
  "path",
  "pauseOnCreate",
  "port",
  "read",
  "readable",
  "readableHighWaterMark",
  "readableObjectMode",
  "signal",
  "timeout",
  "typeOfService",
  "writableHighWaterMark",
  "writableObjectMode",
  "write",
  "writev"
]

/**
 * Every option `tls.connect` reads: `netConnectOptions` and the secure
 * context's (see the module's Gotchas for the four left out).
 *
 * @category models
 * @since 0.1.0
 */
export const tlsConnectOptions: ReadonlyArray<string> = [
  ...netConnectOptions,
  "ALPNCallback",
  "ALPNProtocols",
  "allowPartialTrustChain",
  "ca",
  "cert",
  "clientCertEngine",
  "crl",
  "dhparam",
  "ecdhCurve",
  "enableTrace",
  "honorCipherOrder",
  "isServer",
  "key",
  "maxVersion",
  "minVersion",
  "NPNProtocols",
  "passphrase",
  "pfx",
  "privateKeyEngine",
  "privateKeyIdentifier",
  "pskCallback",
  "pskIdentityHint",
  "requestCert",
  "requestOCSP",
  "secureContext",
  "secureOptions",
  "secureProtocol",
  "server",
  "servername",
  "session",
  "sessionIdContext",
  "sessionTimeout",
  "sigalgs",
  "SNICallback",
  "socket",
  "ticketKeys"
]

/**
 * Every option `http.request` and `https.request` read from a request's
 * options or from the copies they make of them: the request's, the agent's,
 * and `tlsConnectOptions` (the agent connects with the same object).
 *
 * @category models
 * @since 0.1.0
 */
export const httpRequestOptions: ReadonlyArray<string> = [
  ...tlsConnectOptions,
  "_agentKey",
  "_defaultAgent",
  "agent",
  "agentKeepAliveTimeoutBuffer",
  "auth",
  "createConnection",
  "defaultPort",
  "headers",
  "hostname",
  "httpValidation",
  "insecureHTTPParser",
  "joinDuplicateHeaders",
  "keepAliveMsecs",
  "maxCachedSessions",
  "maxFreeSockets",
  "maxHeaderSize",
  "maxSockets",
  "maxTotalSockets",
  "method",
  "protocol",
  "proxyEnv",
  "scheduling",
  "setDefaultHeaders",
  "setHost",
  "socketPath",
  "uniqueHeaders"
]

/**
 * Gives `emitter` (a socket or stream Node made) a table of listeners
 * without a prototype: a copy of the one Node made, listeners included, so
 * that no event name, emitted or listened for, is looked up on
 * `Object.prototype`. Call it as soon as the emitter is made, before anything
 * else listens or emits.
 *
 * **Details**
 *
 * A plain `EventEmitter` keeps its listeners in an object without a
 * prototype, but a Node stream (every socket among them) in an object literal
 * naming a few events (`close`, `data`, `end`, `error`, `readable`, and for a
 * writable side `drain`, `finish`, `prefinish`). Adding the first listener of,
 * or emitting, any other event (`connect`, `timeout`, `resume`, `pause`,
 * `newListener`, `removeListener`...) reads it from `Object.prototype` when
 * the name is polluted there, and Node throws from inside the emitter, which
 * crashes the process. A stream's constructor may add a listener first (a
 * socket listens to its own `end`): the copy keeps it.
 *
 * @category utils
 * @since 0.1.0
 */
export const pinEvents = (emitter: object): void => {
  const target = emitter as { _events?: unknown }
  const events = target._events
  if (typeof events !== "object" || events === null || Object.getPrototypeOf(events) === null) return
  target._events = Object.assign(Object.create(null), events)
}
