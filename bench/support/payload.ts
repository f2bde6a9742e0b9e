/**
 * The response every client benchmark asks for: one small JSON object, the
 * bytes it is sent as, the Schema that decodes it, and the check each call
 * makes on what it read (a client that read nothing, or the wrong thing, must
 * fail the run rather than post a fast figure).
 */
import { Schema } from "effect"

/** The object the server answers with (59 bytes as JSON). */
export const payload = { id: 1, name: "httpkit", tags: ["bench", "json"], ok: true }

/** `payload` as sent: its JSON text. */
export const body = JSON.stringify(payload)

/** The Schema of `payload`, for `getJson` and `schemaBodyJson`. */
export const Payload = Schema.Struct({
  id: Schema.Number,
  name: Schema.String,
  tags: Schema.Array(Schema.String),
  ok: Schema.Boolean
})

/** Throws unless `value` is the payload (its `id` is checked, which is enough to catch an empty or wrong body). */
export const check = (value: unknown): void => {
  if ((value as { id?: unknown } | null)?.id !== 1) throw new Error(`unexpected body: ${JSON.stringify(value)}`)
}
