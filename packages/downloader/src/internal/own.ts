/** Options read by their own keys only (RELIABILITY 10): the shared `@httpkit/core/Own`, under its internal name. */
export { exactly, own, ownData, pinned, spanOptions } from "@httpkit/core/Own"
