/**
 * The packages as a user gets them. Once for the file: `pnpm build`, `pnpm
 * pack` in each package, and a plain `npm install` of the six tarballs (with
 * `effect`, `@effect/platform-node`, `typescript` and `@types/node` at the
 * repository's pins) into a new project in a temporary folder outside the
 * workspace. Then, in that project: what the tarballs hold, a type check of
 * every public module under `strict` and `moduleResolution: nodenext` with
 * the library check on, every module loaded by Node, a retried call through
 * `ResilientClient` to the test server started from the installed bin, a
 * loop under a limit kept by `@httpkit/rate-limiter` on its memory store,
 * and the rate limiter's root loading no Redis client. In a copy of that
 * project with `vitest` and `@effect/vitest` added, every TypeScript block of
 * the top-level README and the package READMEs, type-checked with the same
 * options (`readmeBlocks.ts` finds them; a type error is named by README and
 * line). In a second project, only `@httpkit/core`, `@httpkit/client` and
 * `@httpkit/downloader` (with `effect`): no `redis` and no
 * `@effect/platform-node` installed, and a retried call that works.
 *
 * **Details**
 *
 * - The consumer's programs are `../consumer/*.ts`, copied into the project:
 *   Node runs them with its type stripping, and the project's `tsc` checks
 *   them. `modules.ts` is written here, one import per public module, from
 *   the packages' `src/` (so a new module is covered without an edit).
 * - The consumer installs neither `vitest` nor `@effect/vitest`: they are
 *   optional peers of `@httpkit/testing`, needed only by `ServerSuite` and
 *   `RedisTest.describeWithRedis`, so `ServerSuite` is the one module left
 *   out of `modules.ts`, and everything else must load and type-check
 *   without them.
 * - A README block that is a fragment on purpose is marked with
 *   `<!-- snippet: fragment -->` on the last non-blank line before its
 *   fence, and not checked; keep such marks few, and prefer a block a user
 *   can copy whole.
 * - `npm install` needs the registry (for `effect` and the rest); the npm
 *   cache makes repeated runs quick. Every command has its own deadline.
 */
import { assert, it } from "@effect/vitest"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as ServerControl from "@httpkit/testing/ServerControl"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe } from "vitest"
import * as ReadmeBlocks from "./readmeBlocks.ts"

const root = fileURLToPath(new URL("../..", import.meta.url))
const fixtures = fileURLToPath(new URL("../consumer", import.meta.url))
const packageNames = ["core", "testing", "client", "rate-limiter", "downloader", "metrics"] as const

/** How long one command (build, pack, install, type check) may run. */
const commandTimeout = 300_000

/** A package manifest, as far as these tests read it. */
interface Manifest {
  readonly name: string
  readonly version: string
  readonly [field: string]: unknown
}

/** What one package's tarball holds. */
interface Packed {
  readonly name: string
  readonly directory: string
  readonly tarball: string
  /** Paths inside the tarball, without the leading `package/`. */
  readonly files: ReadonlyArray<string>
  /** The packed `package.json`. */
  readonly manifest: Manifest
  /** The top-level modules of `src/`, without `.ts`. */
  readonly modules: ReadonlyArray<string>
}

/**
 * The environment of every command: the Node running these tests (the
 * pinned one) and the pinned pnpm first on `PATH`, and no `npm_*` variable
 * inherited from an `npm test` above us, which the inner npm would take as
 * its configuration.
 */
const commandEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== "INIT_CWD") env[name] = value
  }
  env.PATH = [
    Path.dirname(process.execPath),
    Path.join(root, "tools", "node_modules", ".bin"),
    process.env.PATH ?? ""
  ].join(Path.delimiter)
  return env
}

/** How a command ended: `error` is null when it exited 0. */
interface Ran {
  readonly error: Error | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `command` to its end, whatever its exit status. */
const runCommand = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Ran> =>
  new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { cwd, env: commandEnv(), timeout: commandTimeout, killSignal: "SIGKILL", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ error, stdout, stderr })
    )
  })

/** Runs `command` to its end; rejects with its output when it fails. */
const mustRun = async (command: string, args: ReadonlyArray<string>, cwd: string): Promise<string> => {
  const { error, stdout, stderr } = await runCommand(command, args, cwd)
  if (error === null) return stdout
  const output = `${stdout}${stderr}`.slice(-6_000)
  throw new Error(`${command} ${args.join(" ")} (in ${cwd}) failed: ${error.message}\n${output}`)
}

/** Plain `npm install` of `specs` (tarballs and `name@pin`) into the project at `cwd`, quietly, from the cache first. */
const npmInstall = (specs: ReadonlyArray<string>, cwd: string): Promise<string> =>
  mustRun("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", ...specs], cwd)

const readJson = async <A>(file: string): Promise<A> => JSON.parse(await Fs.readFile(file, "utf8")) as A

/** The repository's pin of a development tool, from the root `package.json`. */
const rootPin = async (name: string): Promise<string> => {
  const manifest = await readJson<{ readonly devDependencies: Record<string, string> }>(
    Path.join(root, "package.json")
  )
  const pin = manifest.devDependencies[name]
  if (pin === undefined) throw new Error(`the root package.json pins no ${name}`)
  return pin
}

let temp = ""
let project = ""
const packed = new Map<string, Packed>()

/** The packed form of `@httpkit/<name>`. */
const get = (name: string): Packed => {
  const found = packed.get(name)
  if (found === undefined) throw new Error(`@httpkit/${name} was not packed`)
  return found
}

/** Builds, packs, and installs the tarballs into a new project; about a minute with a warm npm cache. */
const prepare = async () => {
  temp = await Fs.mkdtemp(Path.join(Os.tmpdir(), "httpkit-pack-install-"))
  const tarballs = Path.join(temp, "tarballs")
  project = Path.join(temp, "consumer")
  await Fs.mkdir(tarballs)
  await Fs.mkdir(project)

  await mustRun("pnpm", ["build"], root)
  for (const name of packageNames) {
    const directory = Path.join(root, "packages", name)
    const manifest = await readJson<Manifest>(Path.join(directory, "package.json"))
    await mustRun("pnpm", ["pack", "--pack-destination", tarballs], directory)
    const tarball = Path.join(tarballs, `${manifest.name.replace("@", "").replace("/", "-")}-${manifest.version}.tgz`)
    const listing = await mustRun("tar", ["-tzf", tarball], temp)
    const packedManifest = JSON.parse(
      await mustRun("tar", ["-xzOf", tarball, "package/package.json"], temp)
    ) as Manifest
    const modules = (await Fs.readdir(Path.join(directory, "src")))
      .filter((file) => file.endsWith(".ts"))
      .map((file) => file.slice(0, -3))
      .toSorted()
    packed.set(name, {
      name,
      directory,
      tarball,
      files: listing.split("\n").filter((line) => line !== "").map((line) => line.replace(/^package\//, "")),
      manifest: packedManifest,
      modules
    })
  }

  await Fs.writeFile(
    Path.join(project, "package.json"),
    JSON.stringify({ name: "httpkit-consumer", private: true, type: "module" }, null, 2)
  )
  for (const file of await Fs.readdir(fixtures)) {
    await Fs.copyFile(Path.join(fixtures, file), Path.join(project, file))
  }
  await Fs.writeFile(Path.join(project, "modules.ts"), modulesProgram())

  const pins = await Promise.all(
    ["effect", "typescript", "@types/node"].map(async (name) => `${name}@${await rootPin(name)}`)
  )
  // No package depends on it any more (its `redis` peer is required); the rate limiter's `RedisStore` and the
  // consumer's programs use it, at the pin the rate limiter develops with.
  const platformNode = (await readJson<{ readonly devDependencies: Record<string, string> }>(
    Path.join(get("rate-limiter").directory, "package.json")
  )).devDependencies["@effect/platform-node"]
  await npmInstall([
    ...packageNames.map((name) => get(name).tarball),
    ...pins,
    `@effect/platform-node@${platformNode}`
  ], project)
}

/** The import specifiers of every public module: each package's barrel and each top-level module. */
const publicModules = (): ReadonlyArray<string> =>
  packageNames.flatMap((name) => {
    const { manifest, modules } = get(name)
    return modules
      // The bin is a program, not a module; ServerSuite needs the optional peer `@effect/vitest`.
      .filter((module) => module !== "bin" && !(name === "testing" && module === "ServerSuite"))
      .map((module) => module === "index" ? manifest.name : `${manifest.name}/${module}`)
  })

/** `modules.ts`: imports every public module, and prints how many loaded (some hold only types). */
const modulesProgram = (): string => {
  const specifiers = publicModules()
  return [
    "// Written by pack-install.test.ts: every public module of the installed packages.",
    ...specifiers.map((specifier, n) => `import * as m${n} from "${specifier}"`),
    "",
    `const modules: Record<string, object> = {`,
    ...specifiers.map((specifier, n) => `  "${specifier}": m${n},`),
    "}",
    "console.log(JSON.stringify({ loaded: Object.keys(modules).length }))",
    ""
  ].join("\n")
}

beforeAll(prepare, 900_000)
afterAll(async () => {
  if (temp !== "") await Fs.rm(temp, { recursive: true, force: true })
})

/** The installed test server, started from `node_modules/.bin`; stopped with the scope. */
const installedServer = Effect.gen(function*() {
  const server = yield* NodeChild.start<{ readonly text: string }>(
    [Path.join(project, "node_modules", ".bin", "httpkit-test-server")],
    { cwd: project, parse: (text) => ({ text }), timeoutMillis: 60_000 }
  )
  const first = yield* server.until("the server's URL", (line) => line.text.startsWith("http://"))
  return first.text
})

/** Runs one of the consumer's programs with the installed packages; its output as JSON lines. */
const runProgram = (file: string, url: string) =>
  Effect.promise(() => NodeChild.run([file, url], { cwd: project, timeoutMillis: 60_000 })).pipe(
    Effect.map((run) => {
      assert.strictEqual(run.code, 0, run.output)
      return run.stdout.split("\n").filter((line) => line.startsWith("{")).map((line) =>
        JSON.parse(line) as Record<string, unknown>
      )
    })
  )

/** How the packed `@httpkit/<name>` asks for `dependency`. */
const wants = (name: string, dependency: string) => {
  const manifest = get(name).manifest as Record<string, Record<string, unknown> | undefined>
  return {
    dependency: manifest.dependencies?.[dependency] !== undefined,
    peer: manifest.peerDependencies?.[dependency] !== undefined,
    optional: (manifest.peerDependenciesMeta?.[dependency] as { optional?: boolean } | undefined)?.optional === true
  }
}

describe("packed and installed with npm outside the workspace", () => {
  it("each tarball holds dist (JavaScript, declarations, source maps), the src its maps point to, README.md, LICENSE, package.json (and CHANGELOG.md once versioned): no tests, no build records", () => {
    assert.isFalse(temp.startsWith(root), `the project must be outside the workspace: ${temp}`)
    for (const name of packageNames) {
      const { files, modules } = get(name)
      const strays = files.filter((file) =>
        !(["package.json", "README.md", "LICENSE", "CHANGELOG.md"].includes(file) || file.startsWith("dist/") ||
          file.startsWith("src/"))
      )
      assert.deepStrictEqual(strays, [], `${name}: files outside dist/ and src/`)
      assert.include(files, "LICENSE", `${name}: the license its manifest names`)
      assert.deepStrictEqual(files.filter((file) => /(^|\/)test\/|\.test\.|tsbuildinfo/.test(file)), [], name)
      for (const module of modules) {
        for (const file of [`src/${module}.ts`, `dist/${module}.js`, `dist/${module}.js.map`, `dist/${module}.d.ts`]) {
          assert.include(files, file, `${name}: ${file}`)
        }
        assert.include(files, `dist/${module}.d.ts.map`, `${name}: dist/${module}.d.ts.map`)
      }
    }
  })

  it("each packed package.json points exports, types and bin at dist, keeps sideEffects and engines, and names no workspace: version", () => {
    for (const name of packageNames) {
      const { manifest } = get(name)
      assert.deepStrictEqual(
        manifest.exports,
        name === "testing"
          ? { ".": "./dist/index.js", "./*": "./dist/*.js", "./internal/*": null, "./bin": null }
          : { ".": "./dist/index.js", "./*": "./dist/*.js", "./internal/*": null },
        name
      )
      assert.strictEqual(manifest.types, "./dist/index.d.ts", name)
      assert.deepStrictEqual(manifest.sideEffects, [], name)
      assert.deepStrictEqual(manifest.engines, { node: ">=22.19.0" }, name)
      assert.deepStrictEqual(manifest.publishConfig, { access: "public" }, name)
      assert.notInclude(JSON.stringify(manifest), "workspace:", name)
    }
    assert.deepStrictEqual(get("testing").manifest.bin, { "httpkit-test-server": "./dist/bin.js" })
  })

  it("npm pack of a package's sources refuses, naming pnpm pack, where it made a tarball no registry user could install (workspace: versions, exports of .ts sources)", async () => {
    const { error, stdout, stderr } = await runCommand("npm", ["pack", "--dry-run"], `${root}packages/core`)
    assert.isNotNull(error, stdout)
    assert.include(stderr, "pack this package with pnpm pack (or pnpm publish)")
  })

  it("redis, @effect/platform-node, vitest and @effect/vitest are optional peers where one feature needs them, and nothing else", () => {
    const none = { dependency: false, peer: false, optional: false }
    const optionalPeer = { dependency: false, peer: true, optional: true }
    for (const name of ["core", "client", "downloader", "metrics"]) {
      assert.deepStrictEqual(wants(name, "redis"), none, name)
      assert.deepStrictEqual(wants(name, "@effect/platform-node"), none, name)
    }
    assert.deepStrictEqual(wants("client", "@effect/platform-node-shared"), { ...none, dependency: true })
    assert.deepStrictEqual(wants("rate-limiter", "redis"), optionalPeer)
    assert.deepStrictEqual(wants("rate-limiter", "@effect/platform-node"), optionalPeer)
    for (const dependency of ["redis", "vitest", "@effect/vitest"]) {
      assert.deepStrictEqual(wants("testing", dependency), optionalPeer, dependency)
    }
  })

  it("the bin is a compiled .js with a shebang, linked as node_modules/.bin/httpkit-test-server", async () => {
    const link = Path.join(project, "node_modules", ".bin", "httpkit-test-server")
    const target = await Fs.realpath(link)
    assert.strictEqual(target, await Fs.realpath(Path.join(project, "node_modules/@httpkit/testing/dist/bin.js")))
    assert.match(await Fs.readFile(target, "utf8"), /^#!\/usr\/bin\/env node\n/)
  })

  it("every source map of the installed packages points at a file that is there", async () => {
    let maps = 0
    for (const name of packageNames) {
      const installed = Path.join(project, "node_modules", "@httpkit", name)
      for (const file of get(name).files.filter((file) => file.endsWith(".map"))) {
        const map = await readJson<{ readonly sources: ReadonlyArray<string> }>(Path.join(installed, file))
        for (const source of map.sources) {
          await Fs.access(Path.resolve(Path.dirname(Path.join(installed, file)), source))
        }
        maps++
      }
    }
    assert.isAbove(maps, 100)
  })

  it("a file importing every public module, and the consumer's programs, type-check under strict and nodenext with skipLibCheck off", async () => {
    const tsconfig = await readJson<{ readonly compilerOptions: Record<string, unknown> }>(
      Path.join(project, "tsconfig.json")
    )
    assert.deepInclude(tsconfig.compilerOptions, {
      strict: true,
      module: "nodenext",
      moduleResolution: "nodenext",
      skipLibCheck: false
    })
    // The project's own TypeScript, at the repository's pin.
    const output = await mustRun(
      process.execPath,
      [Path.join(project, "node_modules", "typescript", "bin", "tsc"), "-p", "."],
      project
    )
    assert.strictEqual(output, "")
    const installed = await readJson<Manifest>(Path.join(project, "node_modules", "typescript", "package.json"))
    assert.strictEqual(installed.version, await rootPin("typescript"))
  })

  it.effect("every public module loads in Node from the installed packages, without vitest installed", () =>
    Effect.gen(function*() {
      const run = yield* Effect.promise(() => NodeChild.run(["modules.ts"], { cwd: project, timeoutMillis: 60_000 }))
      assert.strictEqual(run.code, 0, run.output)
      assert.deepStrictEqual(JSON.parse(run.stdout.trim()), { loaded: publicModules().length })
      assert.isAbove(publicModules().length, 40)
      const vitest = yield* Effect.promise(() =>
        Fs.access(Path.join(project, "node_modules", "vitest")).then(() => true, () => false)
      )
      assert.isFalse(vitest, "vitest was installed")
    }))

  it.effect("a GET through ResilientClient that the installed test server fails once with a 503 succeeds on attempt 2; the server saw two attempts with one request id", () =>
    Effect.gen(function*() {
      const url = yield* installedServer
      const [result] = yield* runProgram("retried.ts", url)
      assert.strictEqual(result?.status, 200)
      assert.strictEqual(result?.attempt, 2)
      const attempts = yield* ServerControl.make(url).requestsTo("/msg", "GET")
      assert.deepStrictEqual(attempts.map((request) => request.headers["x-request-id"]), [
        result?.requestId,
        result?.requestId
      ])
    }))

  it.effect("six calls in a loop under 3 per second on the memory store: all succeed, and they take at least a second; the server saw every fourth arrive 500 ms or more after the first of its three", () =>
    Effect.gen(function*() {
      const url = yield* installedServer
      const lines = yield* runProgram("limited.ts", url)
      assert.deepStrictEqual(lines.slice(0, 6).map((line) => [line.call, line.status]), [
        [1, 200],
        [2, 200],
        [3, 200],
        [4, 200],
        [5, 200],
        [6, 200]
      ])
      // The fourth call cannot start before the first's slot is a second old: a lower bound that load cannot break.
      assert.isAtLeast(lines[6]?.totalMillis as number, 1_000)
      const arrivals = (yield* ServerControl.make(url).requestsTo("/msg", "GET")).map((request) => request.arrivedAt)
      assert.strictEqual(arrivals.length, 6)
      // Unlimited, six calls over one loopback connection arrive within a few milliseconds; the
      // margin under 1000 ms is for a first request slowed by its connection on a busy machine.
      for (let n = 3; n < 6; n++) assert.isAtLeast(arrivals[n]! - arrivals[n - 3]!, 500, `call ${n + 1}`)
    }))

  it.effect("two GETs, the first failed once with a 503, seen by the installed @httpkit/metrics: 2 calls and 1 retry in the snapshot, the same count scraped from its Prometheus endpoint", () =>
    Effect.gen(function*() {
      const url = yield* installedServer
      const [result] = yield* runProgram("observed.ts", url)
      assert.strictEqual(result?.calls, 2)
      assert.strictEqual(result?.retries, 1)
      const scraped = result?.scraped as ReadonlyArray<string>
      assert.strictEqual(scraped.length, 1, scraped.join("\n"))
      assert.match(scraped[0]!, /client="installed".*status_class="2xx".*outcome="success"} 2$/)
    }))

  it.effect("importing @httpkit/rate-limiter resolves nothing of redis or @effect/platform-node; importing its RedisStore resolves both", () =>
    Effect.gen(function*() {
      const [loads] = yield* runProgram("root-loads.ts", "")
      assert.deepStrictEqual(loads?.root, [])
      // The control: the hook sees these packages when something loads them.
      assert.includeMembers(loads?.redisStore as Array<string>, ["@effect/platform-node", "redis"])
    }))
})

/** The READMEs a user copies code from: the top-level one and each packed package's. */
const readmePaths = ["README.md", ...packageNames.map((name) => `packages/${name}/README.md`)] as const

let readmes = ""
const readmeBlocks: Array<ReadmeBlocks.Block> = []

/**
 * A copy of the consumer project (its `node_modules` as installed) with `vitest` and `@effect/vitest` added at the
 * repository's pins, since the testing README's example is a test; in it, `blocks/` holds every TypeScript block of
 * the READMEs but the fragments, one file each, and `tsconfig.json` the consumer's compiler options.
 */
const prepareReadmes = async () => {
  readmes = Path.join(temp, "readmes")
  await Fs.mkdir(Path.join(readmes, "blocks"), { recursive: true })
  for (const file of ["package.json", "package-lock.json"]) {
    await Fs.copyFile(Path.join(project, file), Path.join(readmes, file))
  }
  // `cp -R` copies the links of node_modules/.bin as links, and takes a fifth of the time of `Fs.cp`.
  await mustRun("cp", ["-R", Path.join(project, "node_modules"), Path.join(readmes, "node_modules")], temp)
  await npmInstall([`vitest@${await rootPin("vitest")}`, `@effect/vitest@${await rootPin("@effect/vitest")}`], readmes)

  const consumer = await readJson<{ readonly compilerOptions: Record<string, unknown> }>(
    Path.join(fixtures, "tsconfig.json")
  )
  await Fs.writeFile(
    Path.join(readmes, "tsconfig.json"),
    JSON.stringify({ compilerOptions: consumer.compilerOptions, include: ["blocks/*.ts"] }, null, 2)
  )
  for (const readme of readmePaths) {
    readmeBlocks.push(...ReadmeBlocks.blocksOf(readme, await Fs.readFile(Path.join(root, readme), "utf8")))
  }
  for (const block of readmeBlocks.filter((block) => !block.fragment)) {
    await Fs.writeFile(Path.join(readmes, "blocks", ReadmeBlocks.fileNameOf(block)), block.code)
  }
}

describe("the READMEs' TypeScript blocks, against the installed packages", () => {
  beforeAll(prepareReadmes, 600_000)

  it("every ts block of README.md and the six package READMEs, 11 or more, but those marked as fragments, type-checks under strict and nodenext with skipLibCheck off; a failure names its README and line", async () => {
    for (const readme of readmePaths) {
      // A plain search for the fences: the parser passed none over.
      const fences = (await Fs.readFile(Path.join(root, readme), "utf8")).match(/^ *(`{3,}|~{3,}) *(ts|typescript)\b/gm)
      assert.strictEqual(readmeBlocks.filter((block) => block.readme === readme).length, fences?.length ?? 0, readme)
    }
    const checked = readmeBlocks.filter((block) => !block.fragment)
    assert.isAtLeast(checked.length, 11, "the READMEs' blocks, fragments left out")

    const { error, stdout, stderr } = await runCommand(
      process.execPath,
      [Path.join(readmes, "node_modules", "typescript", "bin", "tsc"), "-p", ".", "--pretty", "false", "--listFiles"],
      readmes
    )
    const lines = `${stdout}${stderr}`.split("\n").filter((line) => line.trim() !== "")
    // --listFiles prints every file of the program by its absolute path; diagnostics name files relative to the project.
    const listed = new Set(lines.filter((line) => Path.isAbsolute(line)).map((line) => Path.basename(line)))
    assert.deepStrictEqual(
      checked.map(ReadmeBlocks.fileNameOf).filter((file) => !listed.has(file)),
      [],
      "blocks tsc did not check"
    )
    const problems = ReadmeBlocks.locate(
      lines.filter((line) => !Path.isAbsolute(line)).join("\n"),
      "blocks",
      readmeBlocks
    )
    assert.deepStrictEqual(problems, [], `README blocks that do not type-check:\n${problems.join("\n")}`)
    assert.isNull(error)
  })
})

const clientOnlyPackages = ["core", "client", "downloader"] as const
let clientOnly = ""

/** Installs only core, client and downloader (and `effect`) into a project of their own; `prepare` packed them. */
const prepareClientOnly = async () => {
  clientOnly = Path.join(temp, "client-only")
  await Fs.mkdir(clientOnly)
  await Fs.writeFile(
    Path.join(clientOnly, "package.json"),
    JSON.stringify({ name: "httpkit-client-only", private: true, type: "module" }, null, 2)
  )
  await Fs.copyFile(Path.join(fixtures, "client-only.ts"), Path.join(clientOnly, "client-only.ts"))
  await npmInstall(
    [...clientOnlyPackages.map((name) => get(name).tarball), `effect@${await rootPin("effect")}`],
    clientOnly
  )
}

/** Whether `node_modules/<name>` exists in the client-only project. */
const presentInClientOnly = (name: string) =>
  Fs.access(Path.join(clientOnly, "node_modules", name)).then(() => true, () => false)

describe("core, client and downloader installed without the rest", () => {
  beforeAll(prepareClientOnly, 600_000)

  it("the project holds the three and @effect/platform-node-shared, and no redis, no @redis/client and no @effect/platform-node", async () => {
    for (const name of clientOnlyPackages) assert.isTrue(await presentInClientOnly(`@httpkit/${name}`), name)
    assert.isTrue(await presentInClientOnly("@effect/platform-node-shared"))
    for (const name of ["redis", "@redis/client", "@effect/platform-node"]) {
      assert.isFalse(await presentInClientOnly(name), `${name} was installed`)
    }
  })

  it.effect("there, a GET through ResilientClient that the test server fails once with a 503 succeeds on attempt 2; the server saw two attempts with one request id", () =>
    Effect.gen(function*() {
      // The test server installed in the first project: this one has no @httpkit/testing.
      const url = yield* installedServer
      const control = ServerControl.make(url)
      yield* control.reset
      yield* control.failNext(1, { status: 503 })
      const run = yield* Effect.promise(() =>
        NodeChild.run(["client-only.ts", `${url}/msg`], { cwd: clientOnly, timeoutMillis: 60_000 })
      )
      assert.strictEqual(run.code, 0, run.output)
      const result = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "") as Record<string, unknown>
      assert.deepStrictEqual([result.status, result.attempt, result.roots], [200, 2, [true, true]])
      const attempts = yield* control.requestsTo("/msg", "GET")
      assert.deepStrictEqual(attempts.map((request) => request.headers["x-request-id"]), [
        result.requestId,
        result.requestId
      ])
    }))
})
