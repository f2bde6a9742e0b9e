/**
 * The commands a Markdown document lists in its tables, for a test that
 * runs each one exactly as written, so that a README and what its commands
 * do cannot drift apart: a row removed from the README drops its test, and
 * a new row without an expected outcome can fail a check that compares the
 * two lists.
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"

/** `text` with the characters that mean something in a regular expression escaped. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * The commands in the first column of `markdown`'s tables that start with
 * `prefix`, in document order: each row that opens with a code span,
 * `` | `npm run example -- demo` | ... ``.
 *
 * @category parsing
 * @since 0.1.0
 */
export const inTables = (markdown: string, prefix: string): Array<string> =>
  [...markdown.matchAll(new RegExp(`^\\| \`(${literal(prefix)}[^\`]+)\``, "gm"))].map(([, command]) => command!)

/**
 * `inTables` of the Markdown file at `path`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const inFile = (path: string, prefix: string): Array<string> => inTables(readFileSync(path, "utf8"), prefix)

/**
 * The words of `command` after `prefix`, split on each space: the arguments to
 * run it with (`npm run example -- demo --port 1` after
 * `npm run example -- ` is `["demo", "--port", "1"]`). Throws when the
 * command does not start with `prefix`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const argumentsOf = (command: string, prefix: string): Array<string> => {
  if (!command.startsWith(prefix)) {
    throw new Error(`${JSON.stringify(command)} does not start with ${JSON.stringify(prefix)}`)
  }
  return command.slice(prefix.length).split(" ")
}
