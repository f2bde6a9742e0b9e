/** What may be sent as a header: `@httpkit/core/HeaderSyntax`, kept under its old internal name. */
export { headerProblem, invalidValue, methodToken, plainHeaders } from "@httpkit/core/HeaderSyntax"
