/**
 * The per-download options (`Downloader.DownloadOptions`), checked before
 * anything is asked or opened: the settings a download shares with the
 * downloader's configuration (`segments`, `resume`, `ifExists`,
 * `restartOnChange`, `allowSymlinks`, `createFolders`, `maxBytes`, `timeout`) with the very fields of
 * `DownloadConfig.Options`, the `checksum` with `Checksum.resolve`, and
 * `headers` and `onProgress` by their kind. A value the layer would refuse
 * is refused here too, in the same shape, instead of falling through to a
 * default (an `ifExists: "skip"` used to overwrite the file, a
 * `resume: "yes"` counted as true). Read by own keys only; an option given as
 * `undefined` is not set.
 */
import * as ConfigProblem from "@httpkit/core/ConfigProblem"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Checksum from "../Checksum.ts"
import * as DownloadConfig from "../DownloadConfig.ts"
import { own, ownData } from "./own.ts"

const layerFields = DownloadConfig.Options.fields

/** What a download takes, with the layer's own schema for every setting the layer has too. */
const CallOptions = Schema.Struct({
  segments: layerFields.segments,
  resume: layerFields.resume,
  ifExists: layerFields.ifExists,
  restartOnChange: layerFields.restartOnChange,
  allowSymlinks: layerFields.allowSymlinks,
  createFolders: layerFields.createFolders,
  maxBytes: layerFields.maxBytes,
  timeout: layerFields.timeout,
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  onProgress: Schema.optionalKey(
    Schema.declare((value): value is (progress: unknown) => void => typeof value === "function", {
      expected: "a function"
    })
  )
})

const decode = Schema.decodeUnknownExit(CallOptions)

/** The problems of one download's options; `prefix` is their path (`["options"]` in a batch's or a pool's). */
export const problems = (
  options: unknown,
  prefix: ReadonlyArray<string> = []
): ReadonlyArray<ConfigProblem.ConfigProblem> => {
  const input = ownData(options)
  const path = (rest: ReadonlyArray<PropertyKey>) => ConfigProblem.optionPath([...prefix, ...rest])
  if (input === undefined) return []
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return [{
      setting: prefix.length === 0 ? "options" : path([]),
      received: ConfigProblem.show(input),
      expected: "an object"
    }]
  }
  const found: Array<ConfigProblem.ConfigProblem> = []
  const checksum = own(input as { readonly checksum?: unknown }, "checksum")
  if (checksum !== undefined) {
    const spec = Checksum.resolve(checksum as Checksum.Input)
    if (typeof spec === "string") {
      found.push({ setting: path(["checksum"]), received: ConfigProblem.show(checksum), expected: spec })
    }
  }
  const decoded = decode(input, { errors: "all" })
  if (Exit.isFailure(decoded)) {
    const error = Exit.findErrorOption(decoded)
    if (error._tag === "Some") {
      found.push(...ConfigProblem.fromIssue(error.value.issue, {
        setting: path,
        // Header values may hold secrets: never shown.
        received: (at) => at[0] === "headers" ? undefined : ConfigProblem.show(ConfigProblem.at(input, at))
      }))
    }
  }
  return found
}

/** The error for `found`, about `subject` (`"download options"`, `"batch options"`, `"worker options"`). */
export const error = (
  subject: string,
  found: ReadonlyArray<ConfigProblem.ConfigProblem>
): DownloadConfig.DownloadConfigError =>
  new DownloadConfig.DownloadConfigError({ message: ConfigProblem.message(subject, found), problems: found })
