/**
 * Text for errors and logs.
 */

/** The first line of `text`, at most 500 characters: enough to say what happened, never a whole stack or body. */
export const firstLine = (text: string): string => {
  const line = text.split("\n", 1)[0] ?? ""
  return line.length > 500 ? `${line.slice(0, 500)}...` : line
}
