/**
 * The flags of the standalone server (`bin.ts`), each with its description:
 * `parseArgs` reads this table and `--help` is written from it, so every
 * flag accepted is a flag documented.
 */
import type { ParseArgsOptionDescriptor } from "node:util"

/** One flag: what `parseArgs` needs, the name of its value in the help, and one line of help. */
export interface Flag extends ParseArgsOptionDescriptor {
  /** The value's name in the help (`N`, `ADDRESS`); absent for a boolean flag. */
  readonly value?: string
  readonly description: string
}

/** Every flag of `httpkit-test-server`. */
export const flags = {
  port: {
    type: "string",
    short: "p",
    value: "N",
    description: "port to listen on, 0 to 65535; 0 (the default) picks a free one"
  },
  host: {
    type: "string",
    value: "ADDRESS",
    description: "address to bind (default 127.0.0.1); 0.0.0.0 or :: serve other machines too"
  },
  log: {
    type: "boolean",
    description:
      "one line per request on stderr: `GET /status/503?x=1 -> 503 12ms` (no headers; secret query values REDACTED)"
  },
  help: { type: "boolean", short: "h", description: "print this help and exit" }
} as const satisfies Record<string, Flag>

/** The one-line usage, shown with a usage error. */
export const usage = `usage: httpkit-test-server ${
  Object.entries(flags).map(([name, flag]) => `[--${name}${"value" in flag ? ` ${flag.value}` : ""}]`).join(" ")
}`

/** The text of `--help`: the usage, what the process prints, every flag, and where the routes are listed. */
export const help = (): string => {
  const rows = Object.entries(flags).map(([name, flag]) => {
    const short = "short" in flag ? `-${flag.short}, ` : "    "
    return [`${short}--${name}${"value" in flag ? ` ${flag.value}` : ""}`, flag.description] as const
  })
  const width = Math.max(...rows.map(([left]) => left.length)) + 2
  return [
    usage,
    "",
    "The httpkit fault-injection server as a process. The first line of stdout is its URL, the second names",
    "the raw-socket listener. SIGINT or SIGTERM stop it (exit 0); a bad flag exits 2, a server that cannot",
    "start 1.",
    "",
    ...rows.map(([left, description]) => `  ${left.padEnd(width)}${description}`),
    "",
    "GET <url>/ lists every route and its switches (JSON with Accept: application/json); an unknown path",
    "answers 404 naming the closest route. The README of @httpkit/testing is the reference for each switch.",
    ""
  ].join("\n")
}
