// node proxy.mjs PORT UPSTREAM   (CONFORMANCE_TOKEN in the environment)
//
// The conformance suite (0.1.16) has no way to send a bearer token in server mode, and
// Gatehouse answers nothing without one. This forwards every request from
// 127.0.0.1:PORT to UPSTREAM (e.g. http://127.0.0.1:8080) unchanged — method, path,
// headers including Host and Origin, body, status, response headers, streamed bodies —
// except that it sets `Authorization: Bearer $CONFORMANCE_TOKEN`. Loopback only.
import http from 'node:http';

const [port, upstream] = process.argv.slice(2);
const token = process.env.CONFORMANCE_TOKEN;
if (!port || !upstream || !token) {
  console.error('usage: CONFORMANCE_TOKEN=… node proxy.mjs PORT http://127.0.0.1:UPSTREAM_PORT');
  process.exit(64);
}
const target = new URL(upstream);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) {
  console.error(`proxy: the upstream must be on loopback, not ${target.hostname}`);
  process.exit(64);
}

const server = http.createServer((request, response) => {
  const headers = { ...request.headers, authorization: `Bearer ${token}` };
  const forwarded = http.request(
    {
      host: target.hostname,
      port: target.port,
      method: request.method,
      path: request.url,
      headers,
    },
    (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(response);
    },
  );
  forwarded.on('error', (error) => {
    if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
    response.end(`proxy: ${error.message}\n`);
  });
  response.on('close', () => forwarded.destroy());
  request.pipe(forwarded);
});

server.listen(Number(port), '127.0.0.1', () => {
  console.log(`proxy: 127.0.0.1:${port} -> ${target.origin} (adds the bearer token)`);
});
