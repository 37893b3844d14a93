#!/usr/bin/env python3
"""Static checks of the log-shipping configurations (infra/logging): Vector and Fluent Bit
cannot be installed on the test machine, so this checks what can be checked without
them — every file parses, every Vector sink reads the allow-listed stream, the two
shippers keep the same fields, and those fields are the ones Solace's JSON lines carry
(a request line's status, latency, route, request and trace ids; the named error fields
the Sentry scrubber also allows)."""

import pathlib
import re
import sys

import yaml

root = pathlib.Path(__file__).resolve().parent.parent / "infra" / "logging"
problems = []

vector = yaml.safe_load((root / "vector" / "vector.yaml").read_text())
remap = vector["transforms"]["solace_json"]["source"]
vector_fields = set(re.findall(r'^\s*"(\w+)":', remap, re.MULTILINE)) - {"service"}

sinks = sorted((root / "vector" / "sinks").glob("*.yaml"))
if {s.stem for s in sinks} != {"loki", "datadog", "logflare"}:
    problems.append(f"vector sinks: {[s.name for s in sinks]}")
for sink_file in sinks:
    for name, sink in yaml.safe_load(sink_file.read_text())["sinks"].items():
        if sink.get("inputs") != ["solace_json"]:
            problems.append(f"{sink_file.name}: sink {name} must read only solace_json")

fluent = yaml.safe_load((root / "fluent-bit" / "fluent-bit.yaml").read_text())
filters = fluent["pipeline"]["filters"]
allow = next(f["allowlist_key"] for f in filters if f["name"] == "record_modifier")
fluent_fields = set(allow)
if vector_fields != fluent_fields:
    problems.append(
        f"Vector and Fluent Bit keep different fields: {sorted(vector_fields ^ fluent_fields)}"
    )
outputs = {o["name"] for o in fluent["pipeline"]["outputs"]}
if outputs != {"loki", "datadog", "http"}:
    problems.append(f"fluent-bit outputs: {sorted(outputs)}")

# What the server's JSON lines carry (tracing-subscriber's JSON with flattened events and
# the current span): the request line's fields and the allowed error fields.
expected = {
    "timestamp", "level", "message", "target", "request_id", "trace_id", "route",
    "method", "status", "latency_ms", "error", "kind", "queue", "job", "attempt",
    "severity", "layer", "spans",
}
if vector_fields != expected:
    problems.append(f"allow-list differs from Solace's log fields: {sorted(vector_fields ^ expected)}")
telemetry = (root.parent.parent / "apps" / "backend" / "src" / "telemetry.rs").read_text()
sentry_fields = re.search(r"const FIELDS: &\[&str\] = &\[(.*?)\];", telemetry, re.S)
if sentry_fields:
    for field in re.findall(r'"(\w+)"', sentry_fields.group(1)):
        if field not in expected and field not in {"cause", "key", "reason"}:
            problems.append(f"Sentry keeps log field {field!r}; ship it too or say why not")

for problem in problems:
    print(f"check-logging: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"check-logging: Vector (3 sinks) and Fluent Bit keep the same {len(expected)} fields")
