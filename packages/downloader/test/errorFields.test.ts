/**
 * The downloader's errors own only the fields they were given (RELIABILITY
 * 10): an error made while `Object.prototype` is polluted does not take the
 * polluted value of an optional field it was not given.
 */
import { assert, describe, it } from "@effect/vitest"
import { DownloadConfigError } from "../src/DownloadConfig.ts"
import { FileSystemError } from "../src/DownloadError.ts"

describe("errors under a polluted prototype", () => {
  it("DownloadConfigError without problems owns none, and FileSystemError keeps what it was given", () => {
    const proto = Object.prototype as Record<string, unknown>
    proto.problems = [{ setting: "polluted", received: "x", expected: "y" }]
    let config: DownloadConfigError
    let fileSystem: FileSystemError
    try {
      config = new DownloadConfigError({ message: "bad" })
      fileSystem = new FileSystemError({
        url: "https://files.example/a",
        retryable: false,
        operation: "open",
        path: "/tmp/a",
        code: "EACCES"
      })
    } finally {
      delete proto.problems
    }
    assert.isFalse(Object.hasOwn(config, "problems"))
    assert.isFalse(Object.hasOwn(fileSystem, "problems"))
    assert.strictEqual(fileSystem.code, "EACCES")
  })
})
