// `node:fs` plus `globSync` from the `glob` package (Node 22's `fs.globSync`, which the
// conformance suite uses to find its scenario files). Only the suite is given this.
import fs from 'node:fs';
import { globSync } from 'glob';

export * from 'node:fs';
export { globSync };
export default { ...fs, globSync };
