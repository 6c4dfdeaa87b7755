'use strict';
// Preloaded with `node --require tests/mcp/loopback.cjs …` so that a server which binds
// every interface and has no host option (server-everything's streamableHttp mode)
// listens on 127.0.0.1 only: tests must never open a port beyond loopback.
const net = require('node:net');

const LOOPBACK = '127.0.0.1';
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (first !== null && typeof first === 'object') {
    // listen(options[, callback]); a Unix socket path, handle or fd is left alone.
    const local = first.path !== undefined || first.handle !== undefined || first.fd !== undefined || first._handle !== undefined;
    if (!local) args[0] = { ...first, host: LOOPBACK };
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, callback]): replace or insert the host.
    if (typeof args[1] === 'string') args[1] = LOOPBACK;
    else args.splice(1, 0, LOOPBACK);
  } else if (first === undefined || typeof first === 'function') {
    // listen([callback]): an ephemeral port, on loopback.
    args.unshift(0, LOOPBACK);
  }
  return listen.apply(this, args);
};
