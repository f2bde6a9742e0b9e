/**
 * The test projects: one per package. `vitest.config.ts` reads this list.
 */
export const projects = ["packages/*"]
