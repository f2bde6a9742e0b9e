/** What may be sent as a header: `@httpkit/core/HeaderSyntax`, kept under its old internal name. */
export { headerProblem, invalidValue, invalidValueText, plainHeaders, token } from "@httpkit/core/HeaderSyntax"
