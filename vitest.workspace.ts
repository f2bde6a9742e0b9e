/**
 * The test projects: one per package, and `packaging` (the packages built,
 * packed and installed with npm outside the workspace). `vitest.config.ts`
 * reads this list.
 */
export const projects = ["packages/*", "packaging"]
