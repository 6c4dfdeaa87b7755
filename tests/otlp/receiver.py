"""A small OTLP/HTTP receiver for tests: decodes every request with the official
`opentelemetry-proto` messages (protobuf, or OTLP's JSON encoding through protobuf's
own JSON parser) and appends what it decoded to a JSON-lines file, one object per log
record or span, with trace and span ids as hex.

    python receiver.py OUT.jsonl

prints `listening PORT` once it accepts on 127.0.0.1. Answers 200 with an empty
export response; a body that does not decode is answered 400 and recorded as an error.

OTLP's JSON encoding differs from protobuf's JSON mapping in one documented way: trace
and span ids are hex strings, not base64. They are turned into base64 before parsing,
as collectors do; everything else is parsed by protobuf itself.
"""

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

ID_FIELDS = ("traceId", "spanId", "parentSpanId")
LOCK = threading.Lock()


def hex_ids_to_base64(node):
    """OTLP/JSON ids (hex) as protobuf's JSON mapping wants them (base64)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            hex_ids_to_base64(item)


def decode(body, content_type, message):
    if content_type.startswith("application/x-protobuf"):
        message.ParseFromString(body)
    else:
        document = json.loads(body)
        hex_ids_to_base64(document)
        json_format.ParseDict(document, message)
    return message


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(item) for item in any_value.array_value.values]
    if kind == "int_value":
        return any_value.int_value
    return getattr(any_value, kind) if kind else None


def attributes(items):
    return {item.key: value_of(item.value) for item in items}


def logs(request):
    for resource in request.resource_logs:
        for scope in resource.scope_logs:
            for record in scope.log_records:
                yield {
                    "signal": "log",
                    "resource": attributes(resource.resource.attributes),
                    "scope": scope.scope.name,
                    "time_unix_nano": record.time_unix_nano,
                    "severity_number": record.severity_number,
                    "severity_text": record.severity_text,
                    "event_name": record.event_name,
                    "body": value_of(record.body),
                    "attributes": attributes(record.attributes),
                    "trace_id": record.trace_id.hex(),
                    "span_id": record.span_id.hex(),
                }


def spans(request):
    for resource in request.resource_spans:
        for scope in resource.scope_spans:
            for span in scope.spans:
                yield {
                    "signal": "span",
                    "resource": attributes(resource.resource.attributes),
                    "scope": scope.scope.name,
                    "name": span.name,
                    "kind": span.kind,
                    "start_time_unix_nano": span.start_time_unix_nano,
                    "end_time_unix_nano": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "status_code": span.status.code,
                }


class Handler(BaseHTTPRequestHandler):
    out = None

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        content_type = self.headers.get("content-type", "")
        try:
            if self.path == "/v1/logs":
                items = list(logs(decode(body, content_type, ExportLogsServiceRequest())))
                answer = ExportLogsServiceResponse()
            elif self.path == "/v1/traces":
                items = list(spans(decode(body, content_type, ExportTraceServiceRequest())))
                answer = ExportTraceServiceResponse()
            else:
                self.send_error(404)
                return
        except Exception as error:  # noqa: BLE001 - recorded for the test to see
            self.record([{"signal": "error", "path": self.path, "error": repr(error)}])
            self.send_error(400)
            return
        self.record(items)
        payload = json_format.MessageToJson(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def record(self, items):
        with LOCK, open(self.out, "a", encoding="utf-8") as out:
            for item in items:
                out.write(json.dumps(item) + "\n")

    def log_message(self, *_args):
        pass


def main():
    Handler.out = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
