/**
 * The client modules a bench run uses: the workspace's, or those of another
 * copy of `packages/client/src` (`--src DIR`, a variant to compare in the
 * same run of the same script).
 */
import * as ClientConfigModule from "@httpkit/client/ClientConfig"
import * as ResilientClientModule from "@httpkit/client/ResilientClient"
import * as Path from "node:path"

/** `ClientConfig` and `ResilientClient`, from the workspace or from `src`. */
export interface ClientModules {
  readonly ClientConfig: typeof ClientConfigModule
  readonly ResilientClient: typeof ResilientClientModule
}

/** The workspace's client modules when `src` is undefined, else the copies in `src`. */
export const clientModules = async (src: string | undefined): Promise<ClientModules> =>
  src === undefined
    ? { ClientConfig: ClientConfigModule, ResilientClient: ResilientClientModule }
    : {
      ClientConfig: (await import(Path.resolve(src, "ClientConfig.ts"))) as typeof ClientConfigModule,
      ResilientClient: (await import(Path.resolve(src, "ResilientClient.ts"))) as typeof ResilientClientModule
    }

/** The child-run arguments that carry `src` on. */
export const srcArguments = (src: string | undefined): Array<string> => src === undefined ? [] : ["--src", src]
