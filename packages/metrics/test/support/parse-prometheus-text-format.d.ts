/**
 * Types for `parse-prometheus-text-format` (it ships none): the families of
 * a text exposition, shaped like prom2json's output. Values stay strings as
 * written (`"+Inf"`, `"1.5e-3"`).
 */
declare module "parse-prometheus-text-format" {
  export interface Sample {
    readonly value?: string
    readonly labels?: Readonly<Record<string, string>>
    /** Histograms: cumulative count per upper bound (`le`), `+Inf` included. */
    readonly buckets?: Readonly<Record<string, string>>
    /** Summaries: value per quantile. */
    readonly quantiles?: Readonly<Record<string, string>>
    readonly count?: string
    readonly sum?: string
  }

  export interface Family {
    readonly name: string
    readonly help: string
    readonly type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED"
    readonly metrics: ReadonlyArray<Sample>
  }

  const parsePrometheusTextFormat: (text: string) => ReadonlyArray<Family>
  export default parsePrometheusTextFormat
}
