/**
 * A cookie jar for HTTP clients: it stores the `Set-Cookie` headers of
 * responses, answers the `Cookie` header for each request, and optionally
 * persists itself to a file.
 *
 * Use it when a client talks to servers that keep a session in cookies. The
 * `ResilientClient` pipeline finds a `ClientCookies` service in its context and
 * calls the jar once per attempt, redirect hops included; the jar can also be
 * applied by hand (`cookieHeader` before a request, `store` after it).
 *
 * **Details**
 *
 * Effect's `effect/http/Cookies` does the RFC 6265 work: `fromSetCookie`
 * parses, `mergeIntoArray` scopes a cookie (host-only without `Domain`,
 * domain-match of `Domain`, default path), replaces one of the same name,
 * domain and path, and deletes on an expiry in the past;
 * `toRequestCookieHeader` selects the cookies for a URL (domain, path,
 * `Secure` only over https, expiry). This module adds what Effect leaves out:
 *
 * - a `Domain` that is a public suffix (`com`, `co.uk`, `github.io`, from the
 *   Public Suffix List shipped in the `tldts` package) is refused, unless it
 *   names the request host itself, which then gets a host-only cookie;
 * - RFC 6265bis rules: `Secure` cookies are set only by https responses, an
 *   http response cannot overwrite or shadow a `Secure` cookie, `__Secure-` and
 *   `__Host-` prefixes are enforced, and a lifetime is capped at 400 days;
 * - bounds: at most `maxCookies` in total and `maxCookiesPerDomain` per
 *   registrable domain (eTLD+1), the oldest evicted first; a cookie whose name
 *   and value exceed `maxCookieBytes` is refused;
 * - values with control characters (CR, LF, NUL) are refused, so a stored
 *   cookie can never inject a header;
 * - `Set-Cookie` lines folded with commas (as `response.headers["set-cookie"]`
 *   is when a response sets several cookies) are split back into cookies;
 * - persistence: versioned JSON (`{ version: 1, cookies }`, described by
 *   `JarFile`), written atomically with mode `0600`.
 *
 * Expiry uses Effect's `Clock`, so tests move it with `TestClock.adjust`.
 * `SameSite` is kept but ignored: this is not a browser, there is no
 * cross-site context.
 *
 * **Gotchas**
 *
 * - Cookie values are secrets. `cookies` and the jar file expose them; never
 *   log either. `CookieJarError` carries the path and a reason, never a value.
 * - Cookies are isolated by port, which RFC 6265 and browsers do not do: a
 *   cookie set by `127.0.0.1:8080` is never sent to `127.0.0.1:9090` (nor
 *   from `http://host` to `https://host`, ports 80 and 443), so a redirect to
 *   another port of the same host carries no cookie of the first
 *   (RELIABILITY 6). A cookie read from a jar file written before ports were
 *   recorded (no `port`) is sent to any port of its domain, as before.
 * - Session cookies (no `Max-Age` or `Expires`) live in memory only, unless
 *   `persistSessionCookies` is set.
 * - With `onCorrupt: "empty"`, the unreadable file stays as it was until the
 *   first successful save, which first copies it to `<file>.corrupt`.
 *
 * @since 0.1.0
 */
import * as Own from "@httpkit/core/Own"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FileSystem from "effect/FileSystem"
import type * as Cookies from "effect/http/Cookies"
import * as Layer from "effect/Layer"
import type * as PlatformError from "effect/PlatformError"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import { randomUUID } from "node:crypto"
import { dirname } from "node:path"
import * as CookieStore from "./internal/cookieStore.ts"
import { own } from "./internal/own.ts"

/**
 * A cookie jar.
 *
 * @category models
 * @since 0.1.0
 */
export interface CookieJar {
  /**
   * The `Cookie` header value for a request to `url`, or `undefined` when no
   * cookie matches. Honours domain (host-only cookies go to their exact host
   * only), path, `Secure` (https only) and expiry; ignores `SameSite`.
   */
  readonly cookieHeader: (url: URL) => Effect.Effect<string | undefined>
  /**
   * Stores the `Set-Cookie` header values of a response from `url`. Each value
   * may hold several cookies folded with commas. Refused cookies are dropped
   * silently, as browsers do.
   */
  readonly store: (url: URL, setCookie: ReadonlyArray<string>) => Effect.Effect<void>
  /** Persists the jar now; does nothing for a jar without a file. */
  readonly save: Effect.Effect<void, CookieJarError>
  /** Removes every cookie (the file changes on the next save). */
  readonly clear: Effect.Effect<void>
  /**
   * Every unexpired cookie, oldest first, for inspection. The values are
   * secrets (session tokens): do not log them.
   */
  readonly cookies: Effect.Effect<ReadonlyArray<StoredCookie>>
}

const cookieName = Schema.String.check(Schema.isPattern(CookieStore.namePattern))

/**
 * One stored cookie, as `CookieJar.cookies` shows it and the jar file holds
 * it.
 *
 * **Details**
 *
 * `value` is the value as sent on the wire (not percent-decoded). `domain` is
 * the request host for a host-only cookie, else the `Domain` attribute.
 * `expires` is in epoch milliseconds; a session cookie has none.
 *
 * @category models
 * @since 0.1.0
 */
export const StoredCookie = Schema.Struct({
  name: cookieName,
  value: Schema.String.check(Schema.isPattern(CookieStore.valuePattern)),
  domain: Schema.String.check(Schema.isPattern(CookieStore.domainPattern)),
  hostOnly: Schema.Boolean,
  path: Schema.String.check(Schema.isPattern(CookieStore.pathPattern)),
  secure: Schema.Boolean,
  httpOnly: Schema.Boolean,
  sameSite: Schema.optionalKey(Schema.Literals(["lax", "strict", "none"])),
  expires: Schema.optionalKey(Schema.Int),
  /** The port of the origin that set it (explicit, or 80/443 by scheme); absent in older files: any port. */
  port: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65_535 })))
})

/**
 * @category models
 * @since 0.1.0
 */
export type StoredCookie = typeof StoredCookie.Type

/**
 * The persisted jar: `{ version: 1, cookies: [...] }`.
 *
 * @category models
 * @since 0.1.0
 */
export const JarFile = Schema.Struct({
  version: Schema.Literal(1),
  cookies: Schema.Array(StoredCookie)
})

/**
 * @category models
 * @since 0.1.0
 */
export type JarFile = typeof JarFile.Type

const JarFileJson = Schema.fromJsonString(JarFile)

/**
 * Options of a jar without a file.
 *
 * @category models
 * @since 0.1.0
 */
export interface MemoryOptions {
  /**
   * Most cookies kept in total; the oldest are evicted first.
   *
   * @default 3000
   */
  readonly maxCookies?: number | undefined
  /**
   * Most cookies kept per registrable domain (eTLD+1, so `a.example.com` and
   * `b.example.com` share a budget); the oldest are evicted first.
   *
   * @default 50
   */
  readonly maxCookiesPerDomain?: number | undefined
  /**
   * Largest cookie accepted, counting the bytes of its name and value.
   *
   * @default 4096
   */
  readonly maxCookieBytes?: number | undefined
}

/**
 * Options of `make`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends MemoryOptions {
  /**
   * The jar file: loaded when the jar is made (missing means empty), saved on
   * `save` and when the scope closes (if anything changed). Without it the
   * jar lives in memory only.
   */
  readonly file?: string | undefined
  /**
   * What an unreadable or schema-invalid file does: `"fail"` fails `make`
   * with a `CookieJarError` (`reason: "corrupt"`); `"empty"` starts empty,
   * logs a warning, and leaves the file untouched until the first successful
   * save, which copies it to `<file>.corrupt` before replacing it.
   *
   * @default "fail"
   */
  readonly onCorrupt?: "fail" | "empty" | undefined
  /**
   * Whether session cookies (no `Max-Age` or `Expires`) are written to the
   * file too. Off by default: a session ends with the process.
   *
   * @default false
   */
  readonly persistSessionCookies?: boolean | undefined
}

/**
 * The jar file could not be read, written or understood. `reason` is
 * `"corrupt"` (not JSON, not the jar schema, or too large) or `"io"`; the
 * message names the path and never a cookie value.
 *
 * @category errors
 * @since 0.1.0
 */
export class CookieJarError extends Own.fields(
  Schema.TaggedError<CookieJarError>()("CookieJarError", {
    reason: Schema.Literals(["corrupt", "io"]),
    /** The jar file. */
    path: Schema.String,
    /** What went wrong, without cookie values. */
    detail: Schema.String
  })
) {
  override get message(): string {
    return `cookie jar ${this.path}: ${this.reason === "corrupt" ? "corrupt file" : "I/O error"}: ${this.detail}`
  }
}

/** A jar file larger than this is refused as corrupt (3000 cookies of 4 KiB fit in 16 MiB). */
const maxFileBytes = 64 * 1024 * 1024

/** The limits, read by the options' own keys only (RELIABILITY 10). */
const limitsOf = (options: MemoryOptions): CookieStore.Limits => ({
  maxCookies: own(options, "maxCookies") ?? 3000,
  maxCookiesPerDomain: own(options, "maxCookiesPerDomain") ?? 50,
  maxCookieBytes: own(options, "maxCookieBytes") ?? 4096
})

interface State {
  readonly cookies: ReadonlyArray<Cookies.Cookie>
  /** Bumped on every change, so a save knows whether it is still current. */
  readonly version: number
}

/** A new jar's state. The Public Suffix List loads with the jar, not with its first cookie (`loadSuffixList`). */
const makeState = (initial: ReadonlyArray<Cookies.Cookie>): Effect.Effect<Ref.Ref<State>> =>
  Effect.andThen(Effect.sync(CookieStore.loadSuffixList), Ref.make<State>({ cookies: initial, version: 0 }))

const makeCore = (
  limits: CookieStore.Limits,
  initial: ReadonlyArray<Cookies.Cookie>
): Effect.Effect<{ readonly jar: Omit<CookieJar, "save">; readonly state: Ref.Ref<State> }> =>
  Effect.map(makeState(initial), (state) => ({
    state,
    jar: {
      cookieHeader: (url) =>
        Effect.flatMap(
          Clock.currentTimeMillis,
          (now) => Effect.map(Ref.get(state), (current) => CookieStore.header(current.cookies, url, now))
        ),
      store: (url, setCookie) =>
        setCookie.length === 0 ?
          Effect.void :
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Ref.update(state, (current) => {
              const merged = CookieStore.merge(current.cookies, url, setCookie, now, limits)
              if (merged.changed) return { cookies: merged.cookies, version: current.version + 1 }
              return merged.cookies === current.cookies ? current : { ...current, cookies: merged.cookies }
            })),
      clear: Ref.update(state, (current) => ({ cookies: [], version: current.version + 1 })),
      cookies: Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          Effect.map(
            Ref.get(state),
            (current) => CookieStore.purgeExpired(current.cookies, now).map(CookieStore.toFields)
          )
      )
    }
  }))

/**
 * Makes a jar that lives in memory only; it needs no `FileSystem`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory = (options: MemoryOptions = {}): Effect.Effect<CookieJar> =>
  Effect.map(makeCore(limitsOf(options), []), ({ jar }) => ({ ...jar, save: Effect.void }))

const ioError = (path: string) => (error: PlatformError.PlatformError) =>
  new CookieJarError({ reason: "io", path, detail: error.message })

const isNotFound = (error: PlatformError.PlatformError): boolean => error.reason._tag === "NotFound"

/** Reads the jar file: `undefined` when it is missing, `"corrupt"` when it cannot be understood. */
const readJar = Effect.fnUntraced(function*(fs: FileSystem.FileSystem, file: string) {
  const missing = yield* fs.stat(file).pipe(
    Effect.map((info) => info.size > BigInt(maxFileBytes) ? "too-large" as const : "present" as const),
    Effect.catch((error) => isNotFound(error) ? Effect.succeed("missing" as const) : Effect.fail(ioError(file)(error)))
  )
  if (missing === "missing") return undefined
  if (missing === "too-large") return "corrupt" as const
  const text = yield* fs.readFileString(file).pipe(
    Effect.map((text): string | undefined => text),
    Effect.catch((error) => isNotFound(error) ? Effect.succeed(undefined) : Effect.fail(ioError(file)(error)))
  )
  if (text === undefined) return undefined
  const decoded = Schema.decodeUnknownExit(JarFileJson)(text)
  return Exit.isSuccess(decoded) ? decoded.value : "corrupt" as const
})

/** Best-effort flush of a folder, so a rename inside it survives a crash (a no-op where folders cannot be opened). */
const syncDirectory = (fs: FileSystem.FileSystem, directory: string): Effect.Effect<void> =>
  Effect.scoped(Effect.flatMap(fs.open(directory, { flag: "r" }), (handle) => handle.sync)).pipe(Effect.ignore)

/**
 * Writes `text` to `file` atomically: a temporary file beside it (mode 0600,
 * created exclusively), flushed, renamed over `file`, then the folder
 * flushed. On any failure or interruption the temporary file is removed and
 * `file` keeps its previous content.
 */
const writeAtomic = (fs: FileSystem.FileSystem, file: string, text: string): Effect.Effect<void, CookieJarError> => {
  const temporary = `${file}.${randomUUID()}.tmp`
  return Effect.scoped(
    Effect.gen(function*() {
      const handle = yield* fs.open(temporary, { flag: "wx", mode: 0o600 })
      yield* handle.writeAll(new TextEncoder().encode(text))
      yield* handle.sync
    })
  ).pipe(
    Effect.andThen(fs.rename(temporary, file)),
    Effect.onError(() => Effect.ignore(fs.remove(temporary, { force: true }))),
    Effect.mapError(ioError(file)),
    Effect.andThen(syncDirectory(fs, dirname(file)))
  )
}

/** Copies a corrupt jar file aside (mode 0600) before it is first replaced. */
const keepCorrupt = (fs: FileSystem.FileSystem, file: string): Effect.Effect<void, CookieJarError> => {
  const aside = `${file}.corrupt`
  return fs.copyFile(file, aside).pipe(
    Effect.andThen(fs.chmod(aside, 0o600)),
    Effect.catch((error) => isNotFound(error) ? Effect.void : Effect.fail(error)),
    Effect.mapError(ioError(file))
  )
}

/**
 * Makes a jar. With `file`, the jar is loaded now and saved on `save` and when
 * the scope closes (only if it changed; a failure there is logged).
 *
 * **Details**
 *
 * A missing file is an empty jar. A file that is not JSON, not the `JarFile`
 * schema, or larger than 64 MiB fails with `CookieJarError` (`"corrupt"`),
 * or with `onCorrupt: "empty"` starts an empty jar and leaves the file
 * untouched until the first successful save. Expired cookies are neither
 * loaded nor saved. Saves are serialised and atomic (temporary file in the
 * same folder, fsync, rename, folder fsync) with mode `0600`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(
  options: Options = {}
): Effect.fn.Return<CookieJar, CookieJarError, FileSystem.FileSystem | Scope.Scope> {
  // Own keys only: a `file` on `Object.prototype` must not decide where cookies are written (RELIABILITY 10).
  const file = own(options, "file")
  const limits = limitsOf(options)
  if (file === undefined) return yield* makeMemory(options)

  const fs = yield* FileSystem.FileSystem
  const loaded = yield* readJar(fs, file)
  let keepCorruptFile = false
  if (loaded === "corrupt") {
    if (own(options, "onCorrupt") !== "empty") {
      return yield* new CookieJarError({ reason: "corrupt", path: file, detail: "not a version 1 cookie jar file" })
    }
    keepCorruptFile = true
    yield* Effect.logWarning(`cookie jar ${file} is corrupt: starting empty; it is kept until the first save`)
  }
  const now = yield* Clock.currentTimeMillis
  const initial = loaded === undefined || loaded === "corrupt"
    ? []
    : CookieStore.fromPersisted(loaded.cookies, now, limits)
  const { jar, state } = yield* makeCore(limits, initial)
  const persistSession = own(options, "persistSessionCookies") === true
  const semaphore = yield* Semaphore.make(1)
  let savedVersion = 0

  const save = Semaphore.withPermits(semaphore, 1)(Effect.gen(function*() {
    const current = yield* Ref.get(state)
    const at = yield* Clock.currentTimeMillis
    const cookies = current.cookies.filter((cookie) => {
      const expires = own(cookie.options, "expires")
      return expires === undefined ? persistSession : expires.getTime() > at
    })
    const content: JarFile = { version: 1, cookies: cookies.map(CookieStore.toFields) }
    yield* fs.makeDirectory(dirname(file), { recursive: true, mode: 0o700 }).pipe(Effect.mapError(ioError(file)))
    if (keepCorruptFile) yield* keepCorrupt(fs, file)
    yield* writeAtomic(fs, file, JSON.stringify(content) + "\n")
    keepCorruptFile = false
    savedVersion = current.version
  }))

  yield* Effect.addFinalizer(() =>
    Effect.flatMap(Ref.get(state), (current) => current.version === savedVersion ? Effect.void : save).pipe(
      Effect.catch((error) => Effect.logWarning(`cookie jar not saved: ${error.message}`))
    )
  )
  return { ...jar, save }
})

/**
 * The cookie jar a `ResilientClient` uses when it finds one in its context.
 *
 * @category services
 * @since 0.1.0
 */
export class ClientCookies extends Context.Service<ClientCookies, CookieJar>()("@httpkit/client/ClientCookies") {
  /**
   * A jar made by `make(options)`, loaded when the layer is built and saved
   * when it is released. Needs a `FileSystem` (`NodeFileSystem.layer` from
   * `@effect/platform-node/NodeFileSystem`).
   *
   * @category layers
   * @since 0.1.0
   */
  static readonly layer = (
    options: Options = {}
  ): Layer.Layer<ClientCookies, CookieJarError, FileSystem.FileSystem> => Layer.effect(ClientCookies, make(options))

  /**
   * A jar in memory only, with the default bounds.
   *
   * @category layers
   * @since 0.1.0
   */
  static readonly layerMemory: Layer.Layer<ClientCookies> = Layer.effect(ClientCookies, makeMemory())
}
