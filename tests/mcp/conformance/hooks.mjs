// Loaded with `node --import ./hooks.mjs …/conformance/dist/index.js`: the conformance
// suite 0.1.16 imports `globSync` from `fs`, which Node 20 lacks (it is Node 22's). This
// registers a resolve hook that hands the suite — and only the suite — a shim of `fs`.
import { register } from 'node:module';

register('./fs-loader.mjs', import.meta.url);
