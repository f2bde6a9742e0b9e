/**
 * Download throughput and peak memory, side by side in one run: curl (the
 * anchor), aria2c where installed (one connection and eight), a raw undici
 * stream to a file (also hashing it, and as 4 ranges: the like-for-like
 * anchors), and `@httpkit/downloader` as one stream (sha256 and the resume
 * bookkeeping on) and as 4 and 8 segments.
 *
 * One local server serves one file of random bytes: nginx when it is on the
 * PATH, else a small Node static file server (ranges, strong ETag,
 * Last-Modified) in a child process of its own. The file is generated once in
 * a folder on the same disk as the destinations and reused while its size is
 * right. Every download runs in a child process of its own, one at a time,
 * into a fresh file that is checked (its size always, its sha256 for one
 * client per round and for every httpkit run) and then deleted. A round runs
 * every client once, in an order drawn per round (fixed seeds); figures are medians.
 *
 *   npm run bench -- download                            # 1 GiB, 3 rounds
 *   npm run bench -- download --size 256MiB --rounds 1   # a smoke run
 *   npm run bench -- download --rss-scaling              # httpkit single stream at 1 GiB and 4 GiB: peak RSS
 *   npm run bench -- download --help                     # every flag
 *
 * See bench/README.md for how to read the output.
 */
import { spawn } from "node:child_process"
import { createHash, randomFillSync } from "node:crypto"
import { once } from "node:events"
import { constants as FsConstants, createReadStream, createWriteStream } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import { pipeline } from "node:stream/promises"
import { fail, idList, parseFlags, positiveInt } from "../scripts/args.ts"
import { reportToParent, shuffled } from "./support/rounds.ts"
import { listenInChild, startServerProcess } from "./support/server.ts"
import { median } from "./support/stats.ts"
import { fixed, table } from "./support/table.ts"

// Only `node:` modules, and `./support/` modules that import nothing else, are imported statically: a child that
// runs raw undici loads neither Effect nor httpkit, so its peak RSS is undici's own.

const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

// ---------------------------------------------------------------------------
// The Node static file server (child process, `--serve DIR`)
// ---------------------------------------------------------------------------

/** A single byte range `[start, end]` (inclusive), or "unsatisfiable", or undefined to send the whole file. */
const parseRange = (header: string, size: number): { start: number; end: number } | "unsatisfiable" | undefined => {
  // Several ranges (a comma) are answered with the whole file, which RFC 9110 allows.
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (match === null) return undefined
  const [, first = "", last = ""] = match
  if (first === "" && last === "") return undefined
  if (first === "") {
    const suffix = Number(last)
    if (suffix === 0) return "unsatisfiable"
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1)
  if (start >= size || end < start) return "unsatisfiable"
  return { start, end }
}

const serve = (root: string): void => {
  const server = Http.createServer((request, response) => {
    request.resume()
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD", "content-length": "0" }).end()
      return
    }
    const name = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname.slice(1))
    if (name === "" || name !== Path.basename(name) || name.startsWith(".")) {
      response.writeHead(404, { "content-length": "0" }).end()
      return
    }
    const file = Path.join(root, name)
    Fs.stat(file).then((stat) => {
      if (!stat.isFile()) {
        response.writeHead(404, { "content-length": "0" }).end()
        return
      }
      const size = stat.size
      const etag = `"${stat.ino.toString(16)}-${size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`
      const lastModified = stat.mtime.toUTCString()
      const headers: Record<string, string> = {
        "content-type": "application/octet-stream",
        "accept-ranges": "bytes",
        etag,
        "last-modified": lastModified
      }
      // A Range counts only when If-Range (if any) still names this file.
      const ifRange = request.headers["if-range"]
      const rangeHeader = request.headers.range
      const range = rangeHeader !== undefined && (ifRange === undefined || ifRange === etag || ifRange === lastModified)
        ? parseRange(rangeHeader, size)
        : undefined
      if (range === "unsatisfiable") {
        response.writeHead(416, { ...headers, "content-range": `bytes */${size}`, "content-length": "0" }).end()
        return
      }
      const start = range?.start ?? 0
      const end = range?.end ?? size - 1
      if (range !== undefined) headers["content-range"] = `bytes ${start}-${end}/${size}`
      headers["content-length"] = String(size === 0 ? 0 : end - start + 1)
      response.writeHead(range === undefined ? 200 : 206, headers)
      if (request.method === "HEAD" || size === 0) {
        response.end()
        return
      }
      pipeline(createReadStream(file, { start, end, highWaterMark: MiB }), response).catch(() => {
        response.destroy()
      })
    }, () => {
      response.writeHead(404, { "content-length": "0" }).end()
    })
  })
  server.keepAliveTimeout = 30_000
  listenInChild(server)
}

// ---------------------------------------------------------------------------
// The Node clients (child process, `--run ID --url URL --dest FILE`)
// ---------------------------------------------------------------------------

/** What a Node client child prints as its one JSON line. */
interface ChildReport {
  /** Wall time of the transfer, measured in the child after its modules loaded. */
  readonly seconds: number
  /** Resident set just before the transfer (modules loaded, client built), KiB. */
  readonly startRssKiB: number
  /** CPU time of the whole process (every thread, user and system) during the transfer, seconds. */
  readonly cpuSeconds: number
  /** `process.resourceUsage().maxRSS`: peak resident set, KiB. */
  readonly maxRssKiB: number
  readonly digest?: string | undefined
  readonly segments?: number | undefined
  readonly restarts?: number | undefined
  readonly continuations?: number | undefined
}

type Transfer = Omit<ChildReport, "maxRssKiB">

const cpuSecondsSince = (start: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(start)
  return (used.user + used.system) / 1e6
}

/**
 * Raw undici: `request()` with its body piped to `fs.createWriteStream`; with
 * `sha256`, every chunk also goes through a sha256 `Hash` on the main thread on
 * its way to the file, the same hashing work as httpkit's runs (no `.part`, no
 * sidecar, no fsync: the cheapest honest way to hash a download).
 */
const runUndici = async (url: string, dest: string, sha256: boolean): Promise<Transfer> => {
  const Undici = await import("undici")
  const agent = new Undici.Agent()
  const startRssKiB = Math.round(process.memoryUsage.rss() / KiB)
  const cpu = process.cpuUsage()
  const started = performance.now()
  const { statusCode, body } = await Undici.request(url, { dispatcher: agent })
  if (statusCode !== 200) {
    await body.dump()
    throw new Error(`status ${statusCode}`)
  }
  const hash = sha256 ? createHash("sha256") : undefined
  if (hash === undefined) {
    await pipeline(body, createWriteStream(dest))
  } else {
    await pipeline(
      body,
      async function*(chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk)
          yield chunk
        }
      },
      createWriteStream(dest)
    )
  }
  const digest = hash?.digest("hex")
  const seconds = (performance.now() - started) / 1000
  const cpuSeconds = cpuSecondsSince(cpu)
  await agent.close()
  return { seconds, startRssKiB, cpuSeconds, ...(digest === undefined ? {} : { digest }) }
}

/**
 * Raw undici in `segments` ranged requests at once, each body written at its
 * offset into one open file (`FileHandle.write`, one write in flight per
 * segment). No hash, no bookkeeping: what any Node program can reach with
 * several connections on this machine, the ceiling for httpkit's segmented runs.
 */
const runUndiciSegments = async (url: string, dest: string, segments: number): Promise<Transfer> => {
  const Undici = await import("undici")
  const agent = new Undici.Agent({ connections: segments })
  const head = await Undici.request(url, { method: "HEAD", dispatcher: agent })
  await head.body.dump()
  const size = Number(head.headers["content-length"])
  if (head.statusCode !== 200 || !Number.isSafeInteger(size)) throw new Error(`HEAD: status ${head.statusCode}`)
  const handle = await Fs.open(dest, "w")
  const startRssKiB = Math.round(process.memoryUsage.rss() / KiB)
  const cpu = process.cpuUsage()
  const started = performance.now()
  try {
    const step = Math.ceil(size / segments)
    await Promise.all(Array.from({ length: segments }, async (_, index) => {
      const start = index * step
      const end = Math.min(size, start + step) - 1
      const { statusCode, body } = await Undici.request(url, {
        dispatcher: agent,
        headers: { range: `bytes=${start}-${end}` }
      })
      if (statusCode !== 206) {
        await body.dump()
        throw new Error(`segment ${index}: status ${statusCode}`)
      }
      let at = start
      for await (const chunk of body as AsyncIterable<Buffer>) {
        await handle.write(chunk, 0, chunk.byteLength, at)
        at += chunk.byteLength
      }
      if (at !== end + 1) throw new Error(`segment ${index}: ${at - start} bytes, expected ${end + 1 - start}`)
    }))
  } finally {
    await handle.close()
  }
  const seconds = (performance.now() - started) / 1000
  const cpuSeconds = cpuSecondsSince(cpu)
  await agent.close()
  return { seconds, startRssKiB, cpuSeconds, segments }
}

/** `@httpkit/downloader`: `segments` connections, sha256 computed, `.part` + sidecar bookkeeping (resume on). */
const runHttpkit = async (url: string, dest: string, segments: number): Promise<Transfer> => {
  const { Effect } = await import("effect")
  const ResilientClient = await import("@httpkit/client/ResilientClient")
  const Downloader = await import("@httpkit/downloader/Downloader")
  const program = Effect.gen(function*() {
    const client = yield* ResilientClient.make({ timeout: { idle: "60 seconds" } })
    const downloader = yield* Effect.provideService(Downloader.make({}), ResilientClient.ResilientClient, client)
    const startRssKiB = Math.round(process.memoryUsage.rss() / KiB)
    const cpu = process.cpuUsage()
    const started = performance.now()
    const result = yield* downloader.download(url, dest, {
      checksum: { algorithm: "sha256" },
      segments,
      ifExists: "overwrite"
    })
    return {
      seconds: (performance.now() - started) / 1000,
      startRssKiB,
      cpuSeconds: cpuSecondsSince(cpu),
      digest: result.checksum?.digest,
      segments: result.segments,
      restarts: result.restarts,
      continuations: result.continuations
    }
  })
  return Effect.runPromise(Effect.scoped(program))
}

const runChild = async (id: string, url: string, dest: string): Promise<void> => {
  const transfer = id === "undici"
    ? await runUndici(url, dest, false)
    : id === "undici-sha256"
    ? await runUndici(url, dest, true)
    : id === "undici-seg4"
    ? await runUndiciSegments(url, dest, 4)
    : id === "httpkit-single"
    ? await runHttpkit(url, dest, 1)
    : id === "httpkit-seg4"
    ? await runHttpkit(url, dest, 4)
    : id === "httpkit-seg8"
    ? await runHttpkit(url, dest, 8)
    : undefined
  if (transfer === undefined) {
    throw new Error(`--run takes undici, undici-sha256, undici-seg4, httpkit-single, httpkit-seg4 or httpkit-seg8`)
  }
  const report: ChildReport = { ...transfer, maxRssKiB: process.resourceUsage().maxRSS }
  reportToParent(report)
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const clientIds = [
  "curl",
  "aria2c",
  "aria2c-x8",
  "undici",
  "undici-sha256",
  "undici-seg4",
  "httpkit-single",
  "httpkit-seg4",
  "httpkit-seg8"
] as const
type ClientId = typeof clientIds[number]

const usage = `Usage: npm run bench -- download [options]

  --size SIZE          the file served: bytes, or with a unit (256MiB, 1GiB, 1.5GB); at least 1 MiB
                       (default 1GiB)
  --dir DIR            folder for the source file and the destinations, on the disk to measure
                       (default ${Os.tmpdir()}; files go to DIR/httpkit-bench-download/)
  --rounds N           rounds; every client runs once per round, in an order drawn per round (default 3)
  --clients LIST       comma-separated client ids (default every one available):
                       ${clientIds.join(", ")}
  --server KIND        auto (nginx when on the PATH, else node), nginx or node (default auto)
  --verify-all         compare every download's sha256 with the source's (default: one client per round,
                       plus every httpkit run, which computes it anyway)
  --rss-scaling        instead of the table: httpkit single stream once at each of --rss-sizes, printing
                       peak RSS at each (with --clients, those clients instead)
  --rss-sizes LIST     sizes for --rss-scaling, comma-separated (default 1GiB,4GiB; implies --rss-scaling)
  --clean              delete the generated source files at the end (by default they are kept for the
                       next run)
  --help               this text

Internal (the script runs itself as child processes):
  --serve DIR          the Node static file server over DIR; prints its port
  --run ID --url URL --dest FILE
                       one download by a Node client; prints one JSON line
                       { seconds, maxRssKiB, ... }`

interface Settings {
  readonly size: number
  readonly dir: string
  readonly rounds: number
  readonly clients: ReadonlyArray<ClientId> | undefined
  readonly server: "auto" | "nginx" | "node"
  readonly verifyAll: boolean
  readonly rssSizes: ReadonlyArray<number> | undefined
  readonly clean: boolean
}

const parseOptions = () =>
  parseFlags({
    options: {
      size: { type: "string" },
      dir: { type: "string" },
      rounds: { type: "string" },
      clients: { type: "string" },
      server: { type: "string" },
      "verify-all": { type: "boolean", default: false },
      "rss-scaling": { type: "boolean", default: false },
      "rss-sizes": { type: "string" },
      clean: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
      serve: { type: "string" },
      run: { type: "string" },
      url: { type: "string" },
      dest: { type: "string" }
    },
    strict: true,
    allowPositionals: false
  }, usage).values

const readSettings = async (values: ReturnType<typeof parseOptions>): Promise<Settings> => {
  // The downloader's own size parser ("1GiB", "256 MiB", "1.5GB", plain bytes), loaded by the parent only.
  const { bytesOf } = await import("@httpkit/downloader/DownloadConfig")
  const size = (name: string, text: string): number => {
    const bytes = bytesOf(text.trim())
    if (!Number.isSafeInteger(bytes) || bytes < MiB) {
      fail(`${name} takes a size of at least 1 MiB (bytes, or with a unit: 256MiB, 1GiB), got ${JSON.stringify(text)}`)
    }
    return bytes
  }
  const rounds = positiveInt("--rounds", values.rounds) ?? 3
  const clients = idList("client", values.clients, clientIds)
  const server = values.server ?? "auto"
  if (server !== "auto" && server !== "nginx" && server !== "node") {
    fail(`--server takes auto, nginx or node, got ${JSON.stringify(server)}`)
  }
  const rssScaling = values["rss-scaling"] || values["rss-sizes"] !== undefined
  return {
    size: size("--size", values.size ?? "1GiB"),
    dir: Path.resolve(values.dir ?? Os.tmpdir()),
    rounds,
    clients,
    server,
    verifyAll: values["verify-all"],
    rssSizes: rssScaling
      ? (values["rss-sizes"] ?? "1GiB,4GiB").split(",").map((item) => size("--rss-sizes", item))
      : undefined,
    clean: values.clean
  }
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

const formatSize = (bytes: number): string =>
  bytes % GiB === 0
    ? `${bytes / GiB} GiB`
    : bytes % MiB === 0
    ? `${bytes / MiB} MiB`
    : `${bytes} bytes`

const freeBytes = async (dir: string): Promise<number> => {
  const stat = await Fs.statfs(dir)
  return stat.bavail * stat.bsize
}

const sizeOf = async (path: string): Promise<number | undefined> => {
  try {
    return (await Fs.stat(path)).size
  } catch {
    return undefined
  }
}

const sourcePath = (work: string, size: number): string => Path.join(work, `source-${size}.bin`)

/**
 * Room for the source file (unless it is already there) and one destination, plus 64 MiB; a message when it
 * does not fit.
 */
const spaceProblem = async (work: string, size: number): Promise<string | undefined> => {
  const needed = ((await sizeOf(sourcePath(work, size))) === size ? 0 : size) + size + 64 * MiB
  const available = await freeBytes(work)
  return needed <= available ? undefined : `${formatSize(size)} does not fit in ${work}: the source file and one ` +
    `destination need ${(needed / 1e9).toFixed(2)} GB, ${(available / 1e9).toFixed(2)} GB free`
}

/** The source file of `size` random bytes: reused when present with that size, else written (then renamed). */
const ensureSource = async (work: string, size: number): Promise<{ path: string; generated: boolean }> => {
  const path = sourcePath(work, size)
  if ((await sizeOf(path)) === size) return { path, generated: false }
  const temporary = `${path}.tmp`
  const handle = await Fs.open(temporary, "w", 0o644)
  try {
    const chunk = Buffer.allocUnsafe(16 * MiB)
    for (let written = 0; written < size;) {
      const length = Math.min(chunk.length, size - written)
      randomFillSync(chunk, 0, length)
      const { bytesWritten } = await handle.write(chunk, 0, length)
      written += bytesWritten
    }
  } finally {
    await handle.close()
  }
  await Fs.rename(temporary, path)
  return { path, generated: true }
}

/** The sha256 of a file, hex (reading the source also brings it into the page cache before round 1). */
const sha256File = async (path: string): Promise<string> => {
  const hash = createHash("sha256")
  for await (const chunk of createReadStream(path, { highWaterMark: MiB })) hash.update(chunk as Buffer)
  return hash.digest("hex")
}

/** A destination and what a client may leave beside it (httpkit's `.part` and sidecar, aria2c's control file). */
const removeDestination = async (dest: string): Promise<void> => {
  for (const path of [dest, `${dest}.part`, `${dest}.part.json`, `${dest}.aria2`]) await Fs.rm(path, { force: true })
}

/** Whether `name` is an executable file in a folder of the PATH (`command -v`). */
const onPath = async (name: string): Promise<string | undefined> => {
  for (const folder of (process.env["PATH"] ?? "").split(Path.delimiter)) {
    if (folder === "") continue
    const candidate = Path.join(folder, name)
    try {
      await Fs.access(candidate, FsConstants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

// ---------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------

interface Server {
  readonly description: string
  readonly url: (fileName: string) => string
  readonly stop: () => Promise<void>
}

const startNodeServer = async (root: string): Promise<Server> => {
  const { port, pid, stop } = await startServerProcess([import.meta.filename, "--serve", root])
  return {
    description: `node (node:http + fs.createReadStream with 1 MiB reads, child process pid ${pid}, ` +
      `127.0.0.1:${port})`,
    url: (fileName) => `http://127.0.0.1:${port}/${fileName}`,
    stop
  }
}

const freePort = async (): Promise<number> => {
  const probe = Net.createServer()
  probe.listen(0, "127.0.0.1")
  await once(probe, "listening")
  const port = (probe.address() as Net.AddressInfo).port
  probe.close()
  await once(probe, "close")
  return port
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** nginx in the foreground with a configuration of our own: one worker, sendfile, no access log. */
const startNginx = async (nginx: string, root: string, work: string): Promise<Server> => {
  const prefix = Path.join(work, "nginx")
  await Fs.mkdir(prefix, { recursive: true })
  const port = await freePort()
  const temp = (name: string) => `${name}_temp_path ${JSON.stringify(Path.join(prefix, name))};`
  const config = [
    "daemon off;",
    // Run by root, the worker would otherwise drop to `nobody`, who may not read a --dir under a private home.
    ...(process.getuid?.() === 0 ? ["user root;"] : []),
    "worker_processes 1;",
    `pid ${JSON.stringify(Path.join(prefix, "nginx.pid"))};`,
    "error_log stderr warn;",
    "events { worker_connections 64; }",
    "http {",
    "  access_log off;",
    "  sendfile on;",
    "  tcp_nopush on;",
    "  default_type application/octet-stream;",
    "  types { }",
    `  ${temp("client_body")} ${temp("proxy")} ${temp("fastcgi")} ${temp("uwsgi")} ${temp("scgi")}`,
    `  server { listen 127.0.0.1:${port}; root ${JSON.stringify(root)}; }`,
    "}",
    ""
  ].join("\n")
  const configPath = Path.join(prefix, "nginx.conf")
  await Fs.writeFile(configPath, config)
  const child = spawn(nginx, ["-p", prefix, "-c", configPath], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  let exited = false
  child.once("exit", () => {
    exited = true
  })
  for (let attempt = 0; !(await accepts(port)); attempt++) {
    if (exited || attempt >= 100) {
      child.kill("SIGTERM")
      throw new Error(`nginx did not start (${exited ? "it exited" : "no answer after 10 s"}): ${stderr.slice(-1000)}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    description: `nginx (${nginx}, one worker, sendfile, 127.0.0.1:${port}, configuration ${configPath})`,
    url: (fileName) => `http://127.0.0.1:${port}/${fileName}`,
    stop: async () => {
      if (exited) return
      const done = once(child, "exit")
      child.kill("SIGTERM")
      await done
    }
  }
}

// ---------------------------------------------------------------------------
// Clients and one download
// ---------------------------------------------------------------------------

interface Client {
  readonly id: ClientId
  readonly label: string
  /** A program of its own (timed by the parent from spawn to exit), or this script's `--run` (timed inside). */
  readonly external: boolean
  readonly command: (url: string, dest: string) => { readonly file: string; readonly args: ReadonlyArray<string> }
  /** For a segmented httpkit client, the segments it must report. */
  readonly segments?: number
}

const aria2 = (aria2c: string, connections: number) => (url: string, dest: string) => ({
  file: aria2c,
  args: [
    "--quiet=true",
    `--max-connection-per-server=${connections}`,
    `--split=${connections}`,
    "--file-allocation=none",
    "--allow-overwrite=true",
    "--auto-file-renaming=false",
    "--dir",
    Path.dirname(dest),
    "--out",
    Path.basename(dest),
    url
  ]
})

const nodeClient = (id: ClientId, label: string, segments?: number): Client => ({
  id,
  label,
  external: false,
  command: (url, dest) => ({
    file: process.execPath,
    args: [import.meta.filename, "--run", id, "--url", url, "--dest", dest]
  }),
  ...(segments === undefined ? {} : { segments })
})

const makeClients = (curl: string | undefined, aria2c: string | undefined): ReadonlyArray<Client> => [
  ...(curl === undefined ? [] : [{
    id: "curl" as const,
    label: "curl -sSf -o FILE URL",
    external: true,
    command: (url: string, dest: string) => ({ file: curl, args: ["-sSf", "-o", dest, url] })
  }]),
  ...(aria2c === undefined ? [] : [
    { id: "aria2c" as const, label: "aria2c -x1 -s1", external: true, command: aria2(aria2c, 1) },
    { id: "aria2c-x8" as const, label: "aria2c -x8 -s8", external: true, command: aria2(aria2c, 8) }
  ]),
  nodeClient("undici", "undici request() → fs.createWriteStream"),
  nodeClient("undici-sha256", "the same, sha256 on the main thread"),
  nodeClient("undici-seg4", "undici, 4 ranges → positional writes", 4),
  nodeClient("httpkit-single", "httpkit 1 stream, sha256, .part+sidecar"),
  nodeClient("httpkit-seg4", "httpkit 4 segments, sha256", 4),
  nodeClient("httpkit-seg8", "httpkit 8 segments, sha256", 8)
]

interface Sample {
  /** Wall seconds: the whole process for curl and aria2c, the transfer inside the child for Node clients. */
  readonly seconds: number
  /** Peak RSS in KiB, when it could be measured. */
  readonly rssKiB: number | undefined
  /** For Node clients, the RSS just before the transfer, KiB (what loading the modules cost). */
  readonly startRssKiB: number | undefined
  /** CPU seconds, user and system, over the same span as `seconds`, when it could be measured. */
  readonly cpuSeconds: number | undefined
  readonly notes: ReadonlyArray<string>
}

const rssMarker = "httpkit-bench-rss-kib="

const tail = (text: string): string => text.trim().split("\n").slice(-6).join("\n").slice(-1500)

/** Runs one download to `dest` in a child process, then checks the file; throws when anything is wrong. */
const download = async (
  client: Client,
  url: string,
  dest: string,
  source: { readonly size: number; readonly digest: string },
  time: string | undefined,
  verify: boolean
): Promise<Sample> => {
  const { file, args } = client.command(url, dest)
  const [command, commandArgs] = client.external && time !== undefined
    ? [time, ["-f", `${rssMarker}%M %U %S`, file, ...args]]
    : [file, args]
  const started = performance.now()
  const child = spawn(command, commandArgs, { stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk
  })
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
  })
  const status = await new Promise<number | string>((resolve, reject) => {
    child.once("error", reject)
    child.once("close", (code, signal) => resolve(code ?? signal ?? "unknown"))
  })
  const wall = (performance.now() - started) / 1000
  if (status !== 0) throw new Error(`exited with ${status}: ${tail(stderr) || tail(stdout)}`)

  const notes: Array<string> = []
  let sample: Sample
  if (client.external) {
    const match = new RegExp(`${rssMarker}(\\d+) ([\\d.]+) ([\\d.]+)`).exec(stderr)
    sample = {
      seconds: wall,
      rssKiB: match === null ? undefined : Number(match[1]),
      startRssKiB: undefined,
      cpuSeconds: match === null ? undefined : Number(match[2]) + Number(match[3]),
      notes
    }
  } else {
    const line = stdout.trim().split("\n").at(-1) ?? ""
    let report: ChildReport
    try {
      report = JSON.parse(line) as ChildReport
    } catch {
      throw new Error(`printed no report: ${tail(stdout)} ${tail(stderr)}`)
    }
    if (report.digest !== undefined && report.digest !== source.digest) {
      throw new Error(`its own sha256 ${report.digest} is not the source's ${source.digest}`)
    }
    if (client.segments !== undefined && report.segments !== client.segments) {
      notes.push(`ran as ${report.segments} segment(s)`)
    }
    if ((report.restarts ?? 0) > 0) notes.push(`${report.restarts} restart(s)`)
    if ((report.continuations ?? 0) > 0) notes.push(`${report.continuations} continuation(s)`)
    sample = {
      seconds: report.seconds,
      rssKiB: report.maxRssKiB,
      startRssKiB: report.startRssKiB,
      cpuSeconds: report.cpuSeconds,
      notes
    }
  }

  // A broken download must not post a fast figure.
  const size = await sizeOf(dest)
  if (size !== source.size) throw new Error(`the file has ${size ?? "no"} bytes, not ${source.size}`)
  if (verify) {
    const digest = await sha256File(dest)
    if (digest !== source.digest) throw new Error(`sha256 ${digest} is not the source's ${source.digest}`)
    notes.push("sha256 checked")
  }
  return sample
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

const verdict = (ok: boolean): string => ok ? "MET" : "MISSED"

const megabytesPerSecond = (size: number, sample: Sample): number => size / 1e6 / sample.seconds
const rssMegabytes = (sample: Sample): number => sample.rssKiB === undefined ? Number.NaN : (sample.rssKiB * KiB) / 1e6
const startRssMegabytes = (sample: Sample): number =>
  sample.startRssKiB === undefined ? Number.NaN : (sample.startRssKiB * KiB) / 1e6

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

interface Outcome {
  readonly samples: Array<Sample>
  readonly failures: Array<string>
}

/** One download, recorded, its destination removed whatever happened; a progress line on stderr. */
const measureOne = async (
  client: Client,
  server: Server,
  work: string,
  source: { readonly name: string; readonly size: number; readonly digest: string },
  time: string | undefined,
  verify: boolean,
  outcome: Outcome,
  prefix: string
): Promise<void> => {
  const dest = Path.join(work, `dest-${client.id}.bin`)
  await removeDestination(dest)
  try {
    const sample = await download(client, server.url(source.name), dest, source, time, verify)
    outcome.samples.push(sample)
    process.stderr.write(
      `${prefix} ${client.id.padEnd(14)} ${fixed(megabytesPerSecond(source.size, sample), 0).padStart(5)} MB/s  ` +
        `peak RSS ${fixed(rssMegabytes(sample), 0).padStart(4)} MB  CPU ${fixed(sample.cpuSeconds ?? Number.NaN, 2)} s${
          sample.notes.length === 0 ? "" : `  (${sample.notes.join(", ")})`
        }\n`
    )
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    outcome.failures.push(message)
    process.stderr.write(`${prefix} ${client.id.padEnd(14)} FAILED: ${message}\n`)
  } finally {
    await removeDestination(dest)
  }
}

/** The whole run; resolves with the number of downloads that failed. */
const main = async (settings: Settings): Promise<number> => {
  const work = Path.join(settings.dir, "httpkit-bench-download")
  await Fs.mkdir(work, { recursive: true, mode: 0o755 })
  await Fs.chmod(work, 0o755)

  // The programs: clients asked for by name must exist; by default the missing ones are skipped.
  const [curl, aria2c, nginx] = await Promise.all([onPath("curl"), onPath("aria2c"), onPath("nginx")])
  const time = await Fs.access("/usr/bin/time", FsConstants.X_OK).then(() => "/usr/bin/time", () => undefined)
  const available = makeClients(curl, aria2c)
  const wanted = settings.clients ?? (settings.rssSizes === undefined ? clientIds : ["httpkit-single" as const])
  const missing = wanted.filter((id) => !available.some((client) => client.id === id))
  if (settings.clients !== undefined && missing.length > 0) {
    fail(`not on the PATH, so not measurable: ${missing.join(", ")}`)
  }
  const clients = available.filter((client) => wanted.includes(client.id))
  if (settings.server === "nginx" && nginx === undefined) fail("--server nginx: nginx is not on the PATH")

  const cpus = Os.cpus()
  process.stdout.write(
    `bench/download.ts: node ${process.version}, ${Os.availableParallelism()} cores (${
      cpus[0]?.model.trim() ?? "?"
    }), ${(Os.totalmem() / 1e9).toFixed(1)} GB RAM, load ${
      Os.loadavg().map((l) => l.toFixed(2)).join(" ")
    }, ${Os.platform()} ${Os.release()}\n` +
      `folder: ${work} (source file and destinations; ${((await freeBytes(work)) / 1e9).toFixed(1)} GB free)\n` +
      (missing.length === 0 ? "" : `skipped (not on the PATH): ${missing.join(", ")}\n`) +
      (time === undefined ? "peak RSS of curl and aria2c: n/a (no /usr/bin/time)\n" : "")
  )

  const sizes = settings.rssSizes ?? [settings.size]
  const sources: Array<{ name: string; size: number; digest: string }> = []
  const skipped: Array<string> = []
  for (const size of sizes) {
    const problem = await spaceProblem(work, size)
    if (problem !== undefined) {
      if (settings.rssSizes === undefined) {
        process.stderr.write(`${problem}\n`)
        process.exit(1)
      }
      process.stdout.write(`SKIPPED: ${problem}\n`)
      skipped.push(problem)
      continue
    }
    const started = performance.now()
    const { path, generated } = await ensureSource(work, size)
    const digest = await sha256File(path)
    process.stdout.write(
      `file: ${path}, ${formatSize(size)} (${size} bytes) of random bytes, ${
        generated ? "generated" : "reused"
      }, sha256 ${digest.slice(0, 16)}… (${((performance.now() - started) / 1000).toFixed(1)} s)\n`
    )
    sources.push({ name: Path.basename(path), size, digest })
  }

  const server = settings.server === "node" || nginx === undefined
    ? await startNodeServer(work)
    : await startNginx(nginx, work, work)
  process.stdout.write(`server: ${server.description}\n`)
  process.stdout.write(
    "MB/s = file size / wall time (MB = 1e6 bytes): curl and aria2c the whole process (the parent's clock, spawn\n" +
      "  to exit); Node clients the transfer only (measured in the child after its modules loaded).\n" +
      "Peak RSS and CPU time: /usr/bin/time (%M, %U + %S) for curl and aria2c; process.resourceUsage().maxRSS and\n" +
      "  the process.cpuUsage() of the transfer for Node clients; RSS at start: just before the transfer.\n" +
      "httpkit syncs the file to disk (checkpoints each second, a final fsync); curl, aria2c and raw undici leave\n" +
      "  it in the page cache.\n\n"
  )

  try {
    return settings.rssSizes !== undefined
      ? skipped.length + (await rssScaling(clients, server, work, sources, time, skipped))
      : await sideBySide(clients, server, work, sources[0]!, time, settings)
  } finally {
    await server.stop()
    if (settings.clean) {
      for (const source of sources) await Fs.rm(Path.join(work, source.name), { force: true })
      await Fs.rm(Path.join(work, "nginx"), { recursive: true, force: true })
      process.stdout.write(`\nremoved the source file(s) in ${work}\n`)
    } else {
      process.stdout.write(`\nsource file(s) kept in ${work} for the next run (--clean removes them)\n`)
    }
  }
}

/**
 * Every client in every round, in an order drawn per round; the table of medians and ratios against curl, then the aims.
 * Resolves with the number of failed downloads.
 */
const sideBySide = async (
  clients: ReadonlyArray<Client>,
  server: Server,
  work: string,
  source: { readonly name: string; readonly size: number; readonly digest: string },
  time: string | undefined,
  settings: Settings
): Promise<number> => {
  const outcomes = new Map<ClientId, Outcome>(clients.map((client) => [client.id, { samples: [], failures: [] }]))
  process.stdout.write(
    `${settings.rounds} round(s) of ${clients.map((client) => client.id).join(", ")}, order drawn per round\n`
  )
  for (let round = 0; round < settings.rounds; round++) {
    const started = performance.now()
    // Drawn, not rotated: in a rotation each client always follows the same one (and its 1 GiB of dirty pages).
    const order = shuffled(clients, round)
    // One client per round (another each round) has its file hashed by the parent; all of them with --verify-all.
    const checked = clients[round % clients.length]!.id
    for (const client of order) {
      await measureOne(
        client,
        server,
        work,
        source,
        time,
        settings.verifyAll || client.id === checked,
        outcomes.get(client.id)!,
        `round ${round + 1}/${settings.rounds}`
      )
    }
    process.stderr.write(
      `round ${round + 1}/${settings.rounds} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`
    )
  }

  const rate = (id: ClientId) =>
    median((outcomes.get(id)?.samples ?? []).map((s) => megabytesPerSecond(source.size, s)))
  const rss = (id: ClientId) => median((outcomes.get(id)?.samples ?? []).map(rssMegabytes))
  const curlRate = rate("curl")
  const curlRss = rss("curl")
  const rows: Array<Array<string>> = [[
    "client",
    "what",
    "runs",
    "MB/s",
    "MB/s min-max",
    "× curl",
    "peak RSS MB",
    "RSS min-max",
    "RSS × curl",
    "RSS at start",
    "CPU s"
  ]]
  for (const client of clients) {
    const { samples, failures } = outcomes.get(client.id)!
    const rates = samples.map((s) => megabytesPerSecond(source.size, s))
    const rssValues = samples.map(rssMegabytes).filter(Number.isFinite)
    rows.push([
      client.id,
      client.label,
      failures.length === 0 ? String(samples.length) : `${samples.length} (${failures.length} failed)`,
      fixed(rate(client.id), 0),
      samples.length === 0 ? "-" : `${fixed(Math.min(...rates), 0)}-${fixed(Math.max(...rates), 0)}`,
      fixed(rate(client.id) / curlRate, 2),
      rssValues.length === 0 ? "n/a" : fixed(rss(client.id), 0),
      rssValues.length === 0 ? "-" : `${fixed(Math.min(...rssValues), 0)}-${fixed(Math.max(...rssValues), 0)}`,
      fixed(rss(client.id) / curlRss, 1),
      fixed(median(samples.map(startRssMegabytes).filter(Number.isFinite)), 0),
      fixed(median(samples.flatMap((s) => s.cpuSeconds === undefined ? [] : [s.cpuSeconds])), 2)
    ])
  }
  process.stdout.write(
    `\n${formatSize(source.size)} over loopback\n${table(rows, new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]))}\n`
  )
  process.stdout.write(`\nMedians over rounds; ratios are ratios of the medians.\n`)
  for (const client of clients) {
    const { failures } = outcomes.get(client.id)!
    if (failures.length > 0) process.stdout.write(`${client.id} failed ${failures.length}×: ${failures[0]}\n`)
  }

  // The aims.
  const measured = (id: ClientId) => Number.isFinite(rate(id))
  const lines: Array<string> = []
  if (measured("httpkit-single") && measured("undici")) {
    const r = rate("httpkit-single") / rate("undici")
    lines.push(`httpkit single stream ≥ raw undici: ${fixed(r, 2)}× -> ${verdict(r >= 1)}`)
  }
  for (const id of ["httpkit-seg4", "httpkit-seg8"] as const) {
    if (!measured(id) || !Number.isFinite(curlRate)) continue
    const r = rate(id) / curlRate
    lines.push(`${id} ≥ 0.9× curl: ${fixed(r, 2)}× -> ${verdict(r >= 0.9)}`)
  }
  if (Number.isFinite(rss("undici"))) {
    for (const id of ["httpkit-single", "httpkit-seg4", "httpkit-seg8"] as const) {
      if (!Number.isFinite(rss(id))) continue
      const r = rss(id) / rss("undici")
      lines.push(
        `${id} peak RSS ≤ raw undici's: ${fixed(rss(id), 0)} MB against ${fixed(rss("undici"), 0)} MB, ${
          fixed(r, 2)
        }× -> ${verdict(r <= 1)}`
      )
    }
  }
  // Like for like: the same work done by raw undici (the same hash; the same connections), and the memory the
  // transfer itself adds (peak minus the RSS at start, which is the modules a client loads).
  const pairs = [["httpkit-single", "undici-sha256"], ["httpkit-seg4", "undici-seg4"]] as const
  const like: Array<string> = []
  for (const [ours, anchor] of pairs) {
    if (!measured(ours) || !measured(anchor)) continue
    like.push(`${ours} against ${anchor}: ${fixed(rate(ours) / rate(anchor), 2)}× the throughput`)
  }
  const growth = (id: ClientId) =>
    median((outcomes.get(id)?.samples ?? []).map((sample) => rssMegabytes(sample) - startRssMegabytes(sample)))
  if (Number.isFinite(growth("undici"))) {
    for (const id of ["httpkit-single", "httpkit-seg4", "httpkit-seg8"] as const) {
      if (!Number.isFinite(growth(id))) continue
      like.push(
        `${id} RSS growth during the transfer: ${fixed(growth(id), 0)} MB against raw undici's ${
          fixed(growth("undici"), 0)
        } MB`
      )
    }
  }
  if (like.length > 0) {
    process.stdout.write(`\nLike for like (medians):\n${like.map((line) => `  ${line}`).join("\n")}\n`)
  }
  if (lines.length > 0) process.stdout.write(`\nAims (medians):\n${lines.map((line) => `  ${line}`).join("\n")}\n`)
  return clients.reduce((sum, client) => sum + outcomes.get(client.id)!.failures.length, 0)
}

/** Each client once at each size: peak RSS should not grow with the file. Resolves with the failures. */
const rssScaling = async (
  clients: ReadonlyArray<Client>,
  server: Server,
  work: string,
  sources: ReadonlyArray<{ readonly name: string; readonly size: number; readonly digest: string }>,
  time: string | undefined,
  skipped: ReadonlyArray<string>
): Promise<number> => {
  let failures = 0
  const rows: Array<Array<string>> = [["client", "size", "MB/s", "peak RSS MB", "RSS at start", "CPU s"]]
  const peaks = new Map<ClientId, Array<{ size: number; rss: number }>>()
  for (const source of sources) {
    for (const client of clients) {
      const outcome: Outcome = { samples: [], failures: [] }
      // Every run here is hashed: there is one run per size.
      await measureOne(client, server, work, source, time, true, outcome, formatSize(source.size).padStart(8))
      const sample = outcome.samples[0]
      rows.push([
        client.id,
        formatSize(source.size),
        sample === undefined ? "failed" : fixed(megabytesPerSecond(source.size, sample), 0),
        sample === undefined ? "-" : fixed(rssMegabytes(sample), 0),
        sample === undefined ? "-" : fixed(startRssMegabytes(sample), 0),
        sample === undefined ? "-" : fixed(sample.cpuSeconds ?? Number.NaN, 2)
      ])
      if (sample !== undefined) {
        peaks.set(client.id, [...(peaks.get(client.id) ?? []), { size: source.size, rss: rssMegabytes(sample) }])
      }
      if (outcome.failures.length > 0) process.stdout.write(`${client.id} failed: ${outcome.failures[0]}\n`)
      failures += outcome.failures.length
    }
  }
  process.stdout.write(`\nPeak RSS by file size (one run each)\n${table(rows, new Set([2, 3, 4, 5]))}\n`)
  for (const [id, points] of peaks) {
    if (points.length < 2) continue
    const first = points[0]!
    const last = points.at(-1)!
    const r = last.rss / first.rss
    process.stdout.write(
      `${id}: peak RSS ${fixed(first.rss, 0)} MB at ${formatSize(first.size)}, ${fixed(last.rss, 0)} MB at ${
        formatSize(last.size)
      } (${fixed(r, 2)}×) -> ${r <= 1.1 ? "flat (within 10%)" : "GROWS with the file"}\n`
    )
  }
  for (const problem of skipped) process.stdout.write(`NOT MEASURED: ${problem}\n`)
  return failures
}

const values = parseOptions()
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}
if (values.serve !== undefined) {
  serve(Path.resolve(values.serve))
} else if (values.run !== undefined) {
  if (values.url === undefined || values.dest === undefined) fail("--run needs --url and --dest")
  runChild(values.run, values.url, values.dest).then(
    () => process.exit(0),
    (error: unknown) => {
      // A typed error (it has a _tag) is told by its message; a defect by where it was thrown too.
      const where = error instanceof Error && !("_tag" in error)
        ? `\n${error.stack?.split("\n").slice(1, 4).join("\n") ?? ""}`
        : ""
      process.stderr.write(
        `bench/download.ts --run ${values.run} failed: ${
          error instanceof Error ? `${error.name}: ${error.message}` : String(error)
        }${where}\n`
      )
      process.exit(1)
    }
  )
} else {
  // Exit 1 when a download failed (after the table, which shows the others), 2 on a bad option.
  readSettings(values).then(main).then(
    (failures) => process.exit(failures === 0 ? 0 : 1),
    (error: unknown) => {
      process.stderr.write(`bench/download.ts failed: ${error instanceof Error ? error.stack : String(error)}\n`)
      process.exit(1)
    }
  )
}
