/**
 * Workspace packages installed the way a user gets them, in a temporary
 * folder: `node_modules/@httpkit/<name>` and the packages they depend on, so
 * that a script placed in that folder imports `@httpkit/client` by its name.
 *
 * Two shapes:
 *
 * - **published**: each `@httpkit/*` package is a copy of its `dist/` with a
 *   `package.json` whose `exports` are its `publishConfig.exports` (what
 *   `pnpm publish` ships), its `@httpkit/*` dependencies staged the same way;
 *   every other dependency is a symlink to the copy the workspace installed.
 * - **sources**: each `@httpkit/*` package is a symlink to its workspace
 *   folder, whose `exports` point at `src/*.ts` (what the tests and examples
 *   run, through Node's type stripping).
 *
 * **Gotchas**: Node resolves symlinks to their real paths, so a symlinked
 * dependency loads its own dependencies from the workspace's store, and the
 * `.ts` files of a symlinked package are not under `node_modules` once
 * resolved (Node refuses to strip types there). Only `node:` modules are
 * imported here.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** The repository's root folder. */
export const repositoryRoot: string = Path.resolve(import.meta.dirname, "../..")

/** A folder holding `node_modules` with the packages asked for; `remove` deletes it. */
export interface Installed {
  readonly dir: string
  readonly remove: () => void
}

/** What an install needs: where the built packages are, for the published shape. */
export interface InstallOptions {
  /**
   * The folder holding `<name>/dist` for each `@httpkit/<name>` package.
   *
   * @default `packages` of the repository
   */
  readonly distRoot?: string | undefined
}

interface Manifest {
  readonly name: string
  readonly exports?: unknown
  readonly publishConfig?: { readonly exports?: unknown }
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

const workspaceDir = (name: string): string => Path.join(repositoryRoot, "packages", name.replace(/^@httpkit\//, ""))

const readManifest = (dir: string): Manifest =>
  JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")) as Manifest

/** The runtime dependencies of a manifest: `dependencies` and `peerDependencies`. */
const dependenciesOf = (manifest: Manifest): ReadonlyArray<string> => [
  ...new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})])
]

/** The `dist` folder of a workspace package, or `undefined` when it was not built. */
export const distOf = (name: string, options: InstallOptions = {}): string | undefined => {
  const dir = Path.join(
    options.distRoot ?? Path.join(repositoryRoot, "packages"),
    name.replace(/^@httpkit\//, ""),
    "dist"
  )
  return Fs.existsSync(Path.join(dir, "index.js")) ? dir : undefined
}

/** `node_modules/<name>` under `dir` points at `target` (the folder made first for a scoped name). */
const link = (dir: string, name: string, target: string): void => {
  const at = Path.join(dir, "node_modules", name)
  if (Fs.existsSync(at)) return
  Fs.mkdirSync(Path.dirname(at), { recursive: true })
  Fs.symlinkSync(target, at, "dir")
}

/** Links every non-workspace dependency of `manifest` as the workspace package at `from` installed it. */
const linkDependencies = (dir: string, from: string, manifest: Manifest, stage: (name: string) => void): void => {
  for (const dependency of dependenciesOf(manifest)) {
    if (dependency.startsWith("@httpkit/")) {
      stage(dependency)
    } else {
      const installed = Path.join(from, "node_modules", dependency)
      if (!Fs.existsSync(installed)) throw new Error(`${manifest.name}: ${dependency} is not installed (pnpm install)`)
      link(dir, dependency, Fs.realpathSync(installed))
    }
  }
}

const temporaryDir = (label: string): string => Fs.mkdtempSync(Path.join(Os.tmpdir(), `httpkit-bench-${label}-`))

/**
 * Installs `names` (`@httpkit/*` packages) in the published shape, from their
 * built `dist` folders; fails naming the first package that has none.
 */
export const installPublished = (names: ReadonlyArray<string>, options: InstallOptions = {}): Installed => {
  const dir = temporaryDir("published")
  const staged = new Set<string>()
  const stage = (name: string): void => {
    if (staged.has(name)) return
    staged.add(name)
    const from = workspaceDir(name)
    const dist = distOf(name, options)
    if (dist === undefined) throw new Error(`${name} has no built dist/index.js (run pnpm build)`)
    const manifest = readManifest(from)
    const at = Path.join(dir, "node_modules", name)
    Fs.mkdirSync(at, { recursive: true })
    Fs.cpSync(dist, Path.join(at, "dist"), { recursive: true })
    const published = {
      name: manifest.name,
      type: "module",
      exports: manifest.publishConfig?.exports ?? manifest.exports,
      dependencies: manifest.dependencies,
      peerDependencies: manifest.peerDependencies
    }
    Fs.writeFileSync(Path.join(at, "package.json"), `${JSON.stringify(published, null, 2)}\n`)
    linkDependencies(dir, from, manifest, stage)
  }
  try {
    for (const name of names) stage(name)
  } catch (error) {
    Fs.rmSync(dir, { recursive: true, force: true })
    throw error
  }
  return { dir, remove: () => Fs.rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Installs `names` (`@httpkit/*` packages) as their workspace folders: sources, run by type stripping;
 * `also` names other packages to link as the bench workspace installed them (a script's own imports).
 */
export const installSources = (names: ReadonlyArray<string>, also: ReadonlyArray<string> = []): Installed => {
  const dir = temporaryDir("sources")
  for (const name of names) {
    const from = workspaceDir(name)
    link(dir, name, from)
    linkDependencies(dir, from, readManifest(from), () => {})
  }
  linkDependencies(dir, Path.join(repositoryRoot, "bench"), {
    name: "@httpkit/bench",
    dependencies: Object.fromEntries(also.map((name) => [name, "*"]))
  }, () => {})
  return { dir, remove: () => Fs.rmSync(dir, { recursive: true, force: true }) }
}
