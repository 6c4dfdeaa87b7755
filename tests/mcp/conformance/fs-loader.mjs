// The resolve hook registered by hooks.mjs: `fs` imported from inside the conformance
// package resolves to fs-shim.mjs; everything else resolves as usual.
const SHIM = new URL('./fs-shim.mjs', import.meta.url).href;
const SUITE = '/node_modules/@modelcontextprotocol/conformance/';

export async function resolve(specifier, context, nextResolve) {
  const fromSuite = (context.parentURL ?? '').includes(SUITE);
  if (fromSuite && (specifier === 'fs' || specifier === 'node:fs')) {
    return { url: SHIM, shortCircuit: true };
  }
  return nextResolve(specifier, context);
}
