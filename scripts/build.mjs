// `pnpm build`: the published form of every package. Removes each package's
// `dist/` and its build record, then compiles `src/` with TypeScript's build
// mode over tsconfig.build.json (the packages' tsconfig.build.json files, in
// dependency order): ESM JavaScript, declaration files and source maps in
// `packages/<name>/dist/`. Tests and examples never need it: inside the
// workspace the packages' `exports` point at `src/*.ts`; `publishConfig`
// points the packed manifest at `dist/`.
import { spawnSync } from "node:child_process"
import { readdirSync, rmSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const packages = join(root, "packages")

for (const entry of readdirSync(packages, { withFileTypes: true })) {
  if (!entry.isDirectory()) continue
  // The build record goes with the output: a record without its `dist/` would make tsc skip the emit.
  rmSync(join(packages, entry.name, "dist"), { recursive: true, force: true })
  rmSync(join(packages, entry.name, "build", "dist.tsbuildinfo"), { force: true })
}

const result = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-b", "tsconfig.build.json"], {
  cwd: root,
  stdio: "inherit"
})
if (result.error) throw result.error
process.exit(result.status ?? 1)
