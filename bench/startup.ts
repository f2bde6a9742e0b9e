/**
 * Start-up cost: a script that imports a client and makes one GET to a local
 * server, timed from spawn to exit in a fresh process, side by side with the
 * same GET through Node's global `fetch` in the same run.
 *
 * Every case is a small `.mjs` script written to a temporary folder where the
 * packages are installed as a user has them (`support/install.ts`): from
 * sources (`.ts`, through Node's type stripping) or from the built `dist`
 * folders in the published shape. A round runs every case once, in a rotated
 * order; figures are medians over rounds, ratios medians of per-round ratios
 * against `fetch` (`support/rounds.ts`).
 *
 *   npm run bench -- startup               # 9 rounds, about a minute (pnpm build first)
 *   npm run bench -- startup --imports     # what each module costs to import, and how many it loads
 *   npm run bench -- startup --help        # every flag
 *
 * See bench/README.md for how to read the output.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import { idList, parseFlags, positiveInt } from "../scripts/args.ts"
import { distOf, type Installed, installPublished, installSources } from "./support/install.ts"
import { startJsonServer } from "./support/jsonServer.ts"
import { inFreshProcess, pairedRounds, reportRound } from "./support/rounds.ts"
import { median, medianOfRatios } from "./support/stats.ts"
import { fixed, table } from "./support/table.ts"

// ---------------------------------------------------------------------------
// The scripts
// ---------------------------------------------------------------------------

/**
 * What every script reports on its last line: its CPU time (user + system, ms)
 * when the GET was done, and when (ms since the process started) its imports
 * were done and the GET was done.
 */
interface ChildReport {
  readonly cpu: number
  readonly imported: number
  readonly done: number
}

/** The lines every script ends with: check the body, report. */
const reportLines = `
if (body?.id !== 1) throw new Error("unexpected body: " + JSON.stringify(body))
const usage = process.resourceUsage()
process.stdout.write(JSON.stringify({ cpu: (usage.userCPUTime + usage.systemCPUTime) / 1000, imported, done: performance.now() }) + "\\n")
`

/** A script: `imports` (dynamic imports), then `get` (an expression giving the body), then the report. */
const script = (imports: string, get: string, prelude = ""): string =>
  `import { performance } from "node:perf_hooks"
${prelude}const url = process.argv[2]
${imports}
const imported = performance.now()
const body = ${get}
${reportLines}`

const clientScript = (specifier: string, prelude = ""): string =>
  script(
    `const { make } = await import(${JSON.stringify(specifier)})${
      specifier.endsWith("/ResilientClient") ? "" : ".then((m) => m.ResilientClient)"
    }
const Effect = await import("effect/Effect")`,
    `await Effect.runPromise(
  Effect.scoped(Effect.flatMap(make(), (client) => Effect.flatMap(client.get(url), (response) => response.json)))
)`,
    prelude
  )

/** Where a case's script runs: a folder with the packages installed from sources, or built. */
type Shape = "none" | "sources" | "published" | "baseline"

interface CaseSpec {
  readonly label: string
  readonly shape: Shape
  readonly text: (cacheDir: string) => string
}

const caseSpecs = {
  fetch: {
    label: "global fetch",
    shape: "none",
    text: () => script("", "await (await fetch(url)).json()")
  },
  effect: {
    label: "Effect HttpClient (undici), the floor",
    shape: "sources",
    text: () =>
      script(
        `const Effect = await import("effect/Effect")
const HttpClient = await import("effect/http/HttpClient")
const NodeHttpClient = await import("@effect/platform-node/NodeHttpClient")`,
        `await Effect.runPromise(
  HttpClient.get(url).pipe(
    Effect.flatMap((response) => response.json),
    Effect.provide(NodeHttpClient.layerUndici),
    Effect.scoped
  )
)`
      )
  },
  src: {
    label: "@httpkit/client, sources (.ts)",
    shape: "sources",
    text: () => clientScript("@httpkit/client")
  },
  "src-cache": {
    label: "sources, with module.enableCompileCache",
    shape: "sources",
    text: (cacheDir) =>
      clientScript(
        "@httpkit/client",
        `import { enableCompileCache } from "node:module"
enableCompileCache(${JSON.stringify(cacheDir)})
`
      )
  },
  dist: {
    label: "@httpkit/client, built (dist)",
    shape: "published",
    text: () => clientScript("@httpkit/client")
  },
  "dist-deep": {
    label: "@httpkit/client/ResilientClient, built",
    shape: "published",
    text: () => clientScript("@httpkit/client/ResilientClient")
  },
  baseline: {
    label: "@httpkit/client, built elsewhere (--baseline)",
    shape: "baseline",
    text: () => clientScript("@httpkit/client")
  },
  "dist-cache": {
    label: "built, with module.enableCompileCache",
    shape: "published",
    text: (cacheDir) =>
      clientScript(
        "@httpkit/client",
        `import { enableCompileCache } from "node:module"
enableCompileCache(${JSON.stringify(cacheDir)})
`
      )
  }
} satisfies Record<string, CaseSpec>

type CaseId = keyof typeof caseSpecs
const caseIds = Object.keys(caseSpecs) as ReadonlyArray<CaseId>

/** The modules `--imports` times, each imported alone by a fresh process. */
const importSpecs: ReadonlyArray<{ readonly specifier: string; readonly shape: Shape; readonly label?: string }> = [
  { specifier: "./empty.mjs", shape: "none", label: "an empty .mjs module" },
  { specifier: "./empty.ts", shape: "none", label: "an empty .ts module (type stripping starts)" },
  { specifier: "effect/Effect", shape: "sources" },
  { specifier: "effect/Schema", shape: "sources" },
  { specifier: "effect/http/HttpClient", shape: "sources" },
  { specifier: "@effect/platform-node/NodeHttpClient", shape: "sources" },
  { specifier: "@effect/platform-node", shape: "sources", label: "@effect/platform-node (its root barrel)" },
  { specifier: "undici", shape: "sources" },
  { specifier: "tldts", shape: "sources" },
  { specifier: "@httpkit/client", shape: "sources", label: "@httpkit/client, sources" },
  { specifier: "@httpkit/client/ResilientClient", shape: "sources", label: "@httpkit/client/ResilientClient, sources" },
  { specifier: "@httpkit/client", shape: "published", label: "@httpkit/client, built" },
  { specifier: "@httpkit/client/ResilientClient", shape: "published", label: "@httpkit/client/ResilientClient, built" }
]

/** A script that imports `specifier` and reports how long that took, its CPU time and, with `count`, what it loaded. */
const importScript = (specifier: string, count: boolean): string =>
  `import { performance } from "node:perf_hooks"
${
    count
      ? `import { registerHooks } from "node:module"
const loaded = { modules: 0, bytes: 0 }
registerHooks({ load(url, context, next) {
  const result = next(url, context)
  if (!url.startsWith("node:")) { loaded.modules++; loaded.bytes += result.source?.length ?? 0 }
  return result
} })
`
      : "const loaded = {}\n"
  }const started = performance.now()
await import(${JSON.stringify(specifier)})
const importMs = performance.now() - started
const usage = process.resourceUsage()
process.stdout.write(JSON.stringify({ ...loaded, importMs, cpu: (usage.userCPUTime + usage.systemCPUTime) / 1000 }) + "\\n")
`

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const usage = `Usage: npm run bench -- startup [options]

  --rounds R          rounds; each runs every case once in a fresh process (env BENCH_ROUNDS; default 9)
  --cases LIST        comma-separated (env BENCH_CASES; default all whose packages are there):
                      ${caseIds.join(", ")}
                      dist, dist-deep and dist-cache need the built packages (pnpm build)
  --dist DIR          where the built packages are: DIR/<name>/dist (default packages/)
  --baseline DIR      adds the case baseline: the client built in DIR/<name>/dist, for a before
                      and after in one run (copy packages/client/dist and packages/core/dist to
                      DIR/client/dist and DIR/core/dist before a change)
  --cpu-prof DIR      every timed process also writes a V8 CPU profile to DIR/<case>/ (node --cpu-prof);
                      the profiling slows them, so the figures printed are not comparable
  --imports           instead: how long importing each module alone takes in a fresh process,
                      and how many modules (and KiB of source) it loads
  --help              this text`

interface Settings {
  readonly rounds: number
  readonly cases: ReadonlyArray<CaseId> | undefined
  readonly distRoot: string | undefined
  readonly baseline: string | undefined
  readonly cpuProf: string | undefined
  readonly imports: boolean
}

const readSettings = (): Settings => {
  const { values } = parseFlags({
    options: {
      rounds: { type: "string" },
      cases: { type: "string" },
      dist: { type: "string" },
      baseline: { type: "string" },
      "cpu-prof": { type: "string" },
      imports: { type: "boolean", default: false },
      help: { type: "boolean", default: false }
    }
  }, usage)
  const env = process.env
  return {
    rounds: positiveInt("--rounds", values.rounds ?? env["BENCH_ROUNDS"]) ?? 9,
    cases: idList("case", values.cases ?? env["BENCH_CASES"], caseIds),
    distRoot: values.dist === undefined ? undefined : Path.resolve(values.dist),
    baseline: values.baseline === undefined ? undefined : Path.resolve(values.baseline),
    cpuProf: values["cpu-prof"] === undefined ? undefined : Path.resolve(values["cpu-prof"]),
    imports: values.imports
  }
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

/** The folders the scripts run in, one per shape, made on demand and removed at the end. */
const makeFolders = (distRoot: string | undefined, baseline: string | undefined) => {
  const made = new Map<Shape, Installed>()
  return {
    dir: (shape: Shape): string => {
      let installed = made.get(shape)
      if (installed === undefined) {
        installed = shape === "published"
          ? installPublished(["@httpkit/client"], { distRoot })
          : shape === "baseline"
          ? installPublished(["@httpkit/client"], { distRoot: baseline })
          : shape === "sources"
          // The Effect floor's script imports @effect/platform-node, which the client does not depend on.
          ? installSources(["@httpkit/client"], ["@effect/platform-node"])
          : installSources([])
        made.set(shape, installed)
      }
      return installed.dir
    },
    remove: () => {
      for (const installed of made.values()) installed.remove()
    }
  }
}

/**
 * Runs `node file args` in a fresh process (with `--cpu-prof` into `profileDir`
 * when given); its report, and the wall time from spawn to exit in ms.
 */
const timed = async <A>(file: string, args: ReadonlyArray<string>, label: string, profileDir?: string) => {
  const flags = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]
  const started = performance.now()
  const report = await inFreshProcess<A>([...flags, file, ...args], label)
  return { report, wall: performance.now() - started }
}

const header = (what: string): string => {
  const cpus = Os.cpus()
  return `bench/startup.ts${what}: node ${process.version}, ${cpus.length} x ${cpus[0]?.model.trim() ?? "?"}, load ${
    Os.loadavg().map((l) => l.toFixed(2)).join(" ")
  }\n`
}

const runStartup = async (settings: Settings, dir: (shape: Shape) => string): Promise<void> => {
  const built = distOf("@httpkit/client", { distRoot: settings.distRoot }) !== undefined
  const wanted = settings.cases ??
    caseIds.filter((id) =>
      caseSpecs[id].shape === "baseline"
        ? settings.baseline !== undefined
        : built || caseSpecs[id].shape !== "published"
    )
  if (wanted.includes("baseline") && settings.baseline === undefined) {
    throw new Error("the case baseline needs --baseline DIR")
  }
  if (!built && wanted.some((id) => caseSpecs[id].shape === "published")) {
    throw new Error("the cases dist, dist-deep and dist-cache need the built packages: run pnpm build first")
  }
  if (!built) process.stderr.write("no packages/client/dist: the built cases are left out (pnpm build)\n")
  const cases: ReadonlyArray<CaseId> = ["fetch" as const, ...wanted.filter((id) => id !== "fetch")]

  const server = await startJsonServer()
  const cacheDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-bench-compile-cache-"))
  try {
    const files = new Map<CaseId, string>()
    for (const id of cases) {
      const file = Path.join(dir(caseSpecs[id].shape), `startup-${id}.mjs`)
      Fs.writeFileSync(file, caseSpecs[id].text(cacheDir))
      files.set(id, file)
    }
    process.stdout.write(
      `${header("")}server: child process, ${server.url}; ${settings.rounds} rounds, every case a fresh process, ` +
        `wall time from spawn to exit\n\n`
    )
    // One untimed run of each: the file system's cache is warm for every case alike, and the compile cache is filled.
    for (const id of cases) await timed<ChildReport>(files.get(id)!, [server.url], id)
    const samples = await pairedRounds({
      cases,
      rounds: settings.rounds,
      run: (id) =>
        timed<ChildReport>(
          files.get(id)!,
          [server.url],
          `the case ${id}`,
          settings.cpuProf === undefined ? undefined : Path.join(settings.cpuProf, id)
        ),
      onRound: reportRound(settings.rounds)
    })

    const of = (id: CaseId, read: (sample: { report: ChildReport; wall: number }) => number) =>
      samples.get(id)!.map(read)
    const wall = (id: CaseId) => of(id, (s) => s.wall)
    const cpu = (id: CaseId) => of(id, (s) => s.report.cpu)
    const rows = cases.map((id) => {
      const walls = wall(id).toSorted((a, b) => a - b)
      return [
        id,
        caseSpecs[id].label,
        fixed(median(walls) / 1000, 3),
        `${fixed(walls[0]! / 1000, 2)}-${fixed(walls.at(-1)! / 1000, 2)}`,
        fixed(median(cpu(id)) / 1000, 3),
        fixed(median(of(id, (s) => s.report.imported)), 0),
        fixed(median(of(id, (s) => s.report.done - s.report.imported)), 0),
        fixed(medianOfRatios(wall(id), wall("fetch")), 2),
        fixed(medianOfRatios(cpu(id), cpu("fetch")), 2)
      ]
    })
    process.stdout.write(
      `${
        table([
          ["case", "what", "wall s", "wall min-max", "CPU s", "imported ms", "GET ms", "wall × fetch", "CPU × fetch"],
          ...rows
        ], new Set([2, 3, 4, 5, 6, 7, 8]))
      }\n\n`
    )
    process.stdout.write(
      "Medians over rounds. wall: spawn to exit, seen by this process; CPU: user + system of the script when its GET\n" +
        "was done; imported: ms from the process start to the end of its imports; GET: from there to the body read.\n" +
        "Ratios are medians of per-round ratios against fetch in the same round.\n"
    )
    if (cases.includes("baseline") && cases.includes("dist")) {
      process.stdout.write(
        `dist against baseline: wall ${fixed(medianOfRatios(wall("dist"), wall("baseline")), 2)}×, CPU ${
          fixed(medianOfRatios(cpu("dist"), cpu("baseline")), 2)
        }× (medians of per-round ratios)\n`
      )
    }
    if (cases.includes("dist")) {
      const seconds = median(wall("dist")) / 1000
      process.stdout.write(
        `@httpkit/client built: ${fixed(seconds, 3)} s wall against the aim of 0.30 s -> ${
          seconds <= 0.3 ? "MET" : "MISSED"
        }\n`
      )
    }
  } finally {
    Fs.rmSync(cacheDir, { recursive: true, force: true })
    await server.stop()
  }
}

interface ImportReport {
  readonly importMs: number
  readonly cpu: number
  readonly modules?: number
  readonly bytes?: number
}

const runImports = async (settings: Settings, dir: (shape: Shape) => string): Promise<void> => {
  const built = distOf("@httpkit/client", { distRoot: settings.distRoot }) !== undefined
  const specs = importSpecs.filter((spec) => built || spec.shape !== "published")
  if (!built) process.stderr.write("no packages/client/dist: the built client is left out (pnpm build)\n")
  const items = specs.map((spec, i) => {
    const folder = dir(spec.shape)
    if (spec.specifier === "./empty.mjs" || spec.specifier === "./empty.ts") {
      Fs.writeFileSync(Path.join(folder, spec.specifier), "export {}\n")
    }
    const write = (count: boolean) => {
      const file = Path.join(folder, `import-${i}${count ? "-count" : ""}.mjs`)
      Fs.writeFileSync(file, importScript(spec.specifier, count))
      return file
    }
    return { label: spec.label ?? spec.specifier, timedFile: write(false), countFile: write(true) }
  })
  process.stdout.write(`${header(" --imports")}${settings.rounds} rounds, every import a fresh process\n\n`)
  const counts = new Map<(typeof items)[number], ImportReport>()
  for (const item of items) counts.set(item, await inFreshProcess<ImportReport>([item.countFile], item.label))
  const samples = await pairedRounds({
    cases: items,
    rounds: settings.rounds,
    run: (item) => timed<ImportReport>(item.timedFile, [], item.label),
    onRound: reportRound(settings.rounds)
  })
  const rows = items.map((item) => {
    const runs = samples.get(item)!
    const count = counts.get(item)!
    return [
      item.label,
      fixed(median(runs.map((s) => s.report.importMs)), 0),
      fixed(median(runs.map((s) => s.report.cpu)), 0),
      fixed(median(runs.map((s) => s.wall)), 0),
      String(count.modules ?? "-"),
      fixed((count.bytes ?? Number.NaN) / 1024, 0)
    ]
  })
  process.stdout.write(
    `${
      table([["module", "import ms", "CPU ms", "process wall ms", "modules", "KiB"], ...rows], new Set([1, 2, 3, 4, 5]))
    }\n\n`
  )
  process.stdout.write(
    "Medians over rounds. import: the dynamic import alone; CPU: the process's user + system after it; process wall:\n" +
      "spawn to exit. modules and KiB: what the import loaded besides node: built-ins (counted in a separate run,\n" +
      "through a module.registerHooks load hook).\n"
  )
}

const main = async (): Promise<void> => {
  const settings = readSettings()
  const folders = makeFolders(settings.distRoot, settings.baseline)
  try {
    await (settings.imports ? runImports(settings, folders.dir) : runStartup(settings, folders.dir))
  } finally {
    folders.remove()
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench/startup.ts failed: ${error instanceof Error ? error.stack : String(error)}\n`)
    process.exit(1)
  }
)
