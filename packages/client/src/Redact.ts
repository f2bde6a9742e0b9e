/**
 * Redaction of secrets in URLs and headers. The implementation lives in
 * `@httpkit/core/Redact`, shared by every httpkit package; this module
 * re-exports it so that `@httpkit/client/Redact` keeps working.
 *
 * @since 0.1.0
 */
export * from "@httpkit/core/Redact"
