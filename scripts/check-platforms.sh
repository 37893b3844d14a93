#!/usr/bin/env bash
# Static checks of the platform deployment files at the repository root — fly.toml,
# render.yaml, railway.json, vercel.json — against each other and against the code they
# deploy: the Dockerfile they build, the `solace` subcommands they run, the health paths
# the server serves, the settings it reads (README's configuration table), the security
# headers it sends (apps/backend/src/web.rs, app.rs) and the web app's export settings
# (apps/frontend/next.config.ts). Nothing is deployed and no platform is contacted.
#
#   bash scripts/check-platforms.sh
#
# Schemas:
# - vercel.json: its routing keys (rewrites, redirects, headers, cleanUrls, trailingSlash)
#   are validated with the JSON schemas and the route compiler Vercel's own CLI uses, from
#   the npm package @vercel/routing-utils (installed by name, pinned, into a cache
#   directory); the compiled routes are then exercised with sample paths.
# - render.yaml and railway.json: their schemas are published only on render.com and
#   railway.com, not in any npm or PyPI package, and this machine reaches only package
#   registries; so their fields are checked against the field lists of Render's Blueprint
#   reference and Railway's config-as-code reference, written out below. Render's own
#   validator needs an account: `render blueprints validate`.
# - fly.toml: flyctl ships its checks inside the binary (not a registry package); the
#   structure is checked here.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUTING_UTILS_VERSION="6.6.0"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/solace/check-platforms"
routing_utils="$cache/node_modules/@vercel/routing-utils"

python3 -c "import yaml" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check pyyaml
command -v node >/dev/null || { echo "check-platforms: node is required (Node.js 20+)" >&2; exit 1; }
installed=$(node -p "try { require('$routing_utils/package.json').version } catch { '' }")
if [ "$installed" != "$ROUTING_UTILS_VERSION" ]; then
  echo "check-platforms: installing @vercel/routing-utils@$ROUTING_UTILS_VERSION (npm) into $cache"
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-fund --no-audit --loglevel=error \
    "@vercel/routing-utils@$ROUTING_UTILS_VERSION" >/dev/null
fi

ROUTING_UTILS="$routing_utils" python3 - <<'PY'
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

passed = 0
failures = []
warnings = []


def check(condition, what):
    """One fact: counted, and named when it does not hold."""
    global passed
    if condition:
        passed += 1
    else:
        failures.append(what)


def read(path):
    return Path(path).read_text(encoding="utf-8")


fly = tomllib.loads(read("fly.toml"))
render = yaml.safe_load(read("render.yaml"))
railway = json.loads(read("railway.json"))
vercel = json.loads(read("vercel.json"))

# --- What the code says ------------------------------------------------------------
DOCKERFILE = "apps/backend/Dockerfile"
dockerfile = read(DOCKERFILE)
main_rs = read("apps/backend/src/main.rs")
health_rs = read("apps/backend/src/health.rs")
web_rs = read("apps/backend/src/web.rs")
app_rs = read("apps/backend/src/app.rs")
readme = read("README.md")
next_config = read("apps/frontend/next.config.ts")
frontend_name = json.loads(read("apps/frontend/package.json"))["name"]

enum = re.search(r"enum Command \{(.*?)\n\}", main_rs, re.S)
subcommands = {
    re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()
    for name in re.findall(r"^    ([A-Z][A-Za-z]*)\b", enum.group(1) if enum else "", re.M)
}
check({"serve", "worker", "migrate"} <= subcommands,
      f"main.rs: subcommands serve, worker and migrate exist (found {sorted(subcommands)})")
health_paths = set(re.findall(r'path = "(/[a-z]+)"', health_rs))
check({"/healthz", "/readyz"} <= health_paths, "health.rs serves /healthz and /readyz")
# The stage each platform runs: `runtime`, the last one (the default target for Render and
# Railway, named in fly.toml).
stages = dict(re.findall(r"^FROM \S+ AS (\S+)\n(.*?)(?=^FROM |\Z)", dockerfile, re.M | re.S))
last_stage = re.findall(r"^FROM \S+ AS (\S+)", dockerfile, re.M)[-1:]
runtime = stages.get("runtime", "")
check(last_stage == ["runtime"], f"Dockerfile: the last stage is `runtime` (the default build target; {last_stage})")
check(re.search(r'^ENTRYPOINT \["/app/solace"\]', runtime, re.M) is not None,
      "Dockerfile runtime: ENTRYPOINT is /app/solace (commands below are its subcommands)")
check(re.search(r'^CMD \["serve"\]', runtime, re.M) is not None,
      "Dockerfile runtime: CMD is serve (Render's web service relies on it)")
exposed = set(" ".join(re.findall(r"^EXPOSE (.*)$", runtime, re.M)).split())
check({"8080", "50000/udp", "50000/tcp"} <= exposed, f"Dockerfile runtime exposes 8080, 50000/udp, 50000/tcp ({sorted(exposed)})")
image_metrics = re.search(r"METRICS_ADDR=(\S+)", runtime)
# Every setting named in README's configuration table (plus KEY_FILE forms).
settings = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", readme))

SECRET = re.compile(r"(^DATABASE_URL$|^REDIS_URL$|_API_KEY$|_API_SECRET$|_SECRET$|_CREDENTIAL$|^SENTRY_DSN$|^POSTHOG_KEY$|_TOKEN$)")


def known_settings(keys, where):
    unknown = sorted(k for k in keys if k not in settings)
    check(not unknown, f"{where}: every variable is a Solace setting in README.md (unknown: {unknown})")


# --- Fly.io ---------------------------------------------------------------------------
processes = fly.get("processes", {})
env = fly.get("env", {})
check(fly.get("build", {}).get("dockerfile") == DOCKERFILE, f"fly.toml: build.dockerfile is {DOCKERFILE}")
check(set(processes) == {"web", "worker"}, f"fly.toml: process groups web and worker ({sorted(processes)})")
check(processes.get("web", "").split()[:1] == ["serve"], "fly.toml: web runs `serve`")
check("--no-worker" not in processes.get("web", ""),
      "fly.toml: web is not `serve --no-worker` (only `serve` runs room housekeeping: sessions, guests, idle rooms)")
check(processes.get("worker", "").split() == ["worker"], "fly.toml: worker runs `worker`")
check(fly.get("deploy", {}).get("release_command") == "migrate", "fly.toml: release_command is `migrate`")
http = fly.get("http_service", {})
check(http.get("processes") == ["web"], "fly.toml: http_service serves the web group only")
check(str(http.get("internal_port")) == env.get("PORT") == "8080", "fly.toml: http_service.internal_port = PORT = 8080")
check(http.get("force_https") is True, "fly.toml: force_https")
check(http.get("auto_stop_machines") in ("off", False), "fly.toml: the web Machine is never stopped when idle")
check(any(c.get("path") == "/healthz" for c in http.get("checks", [])), "fly.toml: http_service check on /healthz")
top_checks = fly.get("checks", {}).values()
check(any(c.get("path") == "/readyz" and c.get("port") == 8080 and c.get("type") == "http" for c in top_checks),
      "fly.toml: a check on /readyz (port 8080)")
services = fly.get("services", [])
udp = [s for s in services if s.get("protocol") == "udp"]
tcp = [s for s in services if s.get("protocol") == "tcp"]
check(len(udp) == 1 and udp[0].get("processes") == ["web"], "fly.toml: one UDP service, on the web group")
check(len(tcp) == 1 and tcp[0].get("processes") == ["web"], "fly.toml: one raw TCP service (ICE-TCP), on the web group")
for name, group, port_key in (("UDP", udp, "RTC_UDP_PORT"), ("TCP", tcp, "RTC_TCP_PORT")):
    for service in group:
        ports = [p.get("port") for p in service.get("ports", [])]
        check(str(service.get("internal_port")) == env.get(port_key) and [str(p) for p in ports] == [env.get(port_key)],
              f"fly.toml: {name} service on {port_key} inside and out (Fly does not rewrite ports): {service.get('internal_port')} → {ports}")
        check(all("handlers" not in p for p in service.get("ports", [])), f"fly.toml: no handlers on the {name} service")
check(env.get("RTC_UDP_HOST") == "fly-global-services", "fly.toml: RTC_UDP_HOST = fly-global-services")
check(env.get("HOST") == "0.0.0.0", "fly.toml: HOST = 0.0.0.0 (TCP must not bind fly-global-services)")
check(env.get("APP_ENV") == "production", "fly.toml: APP_ENV = production")
check(env.get("CLIENT_IP_HEADER") == "Fly-Client-IP", "fly.toml: CLIENT_IP_HEADER = Fly-Client-IP (the last X-Forwarded-For hop is Fly's own address)")
check(env.get("JOBS_BACKEND") == "redis", "fly.toml: JOBS_BACKEND = redis")
check(env.get("PUBLIC_URL", "").startswith("https://"), "fly.toml: PUBLIC_URL is https://")
check(not [k for k in env if SECRET.search(k)], "fly.toml: no secret in [env] (use fly secrets set)")
check("PUBLIC_IP" not in env, "fly.toml: PUBLIC_IP is per deployment (fly secrets set), not committed")
known_settings(env, "fly.toml [env]")
check(fly.get("build", {}).get("build-target", "runtime") == "runtime", "fly.toml: builds the `runtime` stage")
fly_metrics = fly.get("metrics", [])
fly_metrics = [fly_metrics] if isinstance(fly_metrics, dict) else fly_metrics
for m in fly_metrics:
    addr = env.get("METRICS_ADDR") or (image_metrics.group(1) if image_metrics else "127.0.0.1:9464")
    check(addr.startswith(("0.0.0.0:", "[::]:")) and addr.rsplit(":", 1)[1] == str(m.get("port")),
          f"fly.toml: [[metrics]] port {m.get('port')} is where /metrics listens, off loopback ({addr})")
    public_ports = {"80", "443"} | {str(p.get("port")) for s in services for p in s.get("ports", [])}
    check(str(m.get("port")) not in public_ports, "fly.toml: the metrics port is not a public port")
mounts = fly.get("mounts", [])
mounts = [mounts] if isinstance(mounts, dict) else mounts
if mounts:
    check(fly.get("deploy", {}).get("strategy", "rolling") not in ("bluegreen", "canary"),
          "fly.toml: no bluegreen/canary strategy with a volume (Fly refuses them)")
    check(all(m.get("processes") == ["web"] for m in mounts), "fly.toml: the volume belongs to the web group")
    workflow = Path(".github/workflows/deploy.yml")
    if workflow.is_file() and "--strategy bluegreen" in workflow.read_text(encoding="utf-8"):
        warnings.append(".github/workflows/deploy.yml deploys with --strategy bluegreen, which Fly refuses "
                        "while fly.toml mounts a volume (see docs/deploy-platforms.md)")
if fly.get("app") == "solace":
    warnings.append("fly.toml: app name is still 'solace' — pick your own (docs/deploy-platforms.md)")

# --- Render -----------------------------------------------------------------------------
SERVICE_FIELDS = {
    "type", "name", "runtime", "env", "plan", "region", "repo", "branch", "rootDir", "buildCommand",
    "startCommand", "preDeployCommand", "dockerCommand", "dockerfilePath", "dockerContext",
    "registryCredential", "image", "healthCheckPath", "numInstances", "scaling", "envVars", "disk",
    "domains", "autoDeploy", "autoDeployTrigger", "buildFilter", "maxShutdownDelaySeconds", "previews",
    "ipAllowList", "maxmemoryPolicy", "previewPlan", "schedule", "staticPublishPath", "headers", "routes",
}
DATABASE_FIELDS = {
    "name", "databaseName", "user", "plan", "previewPlan", "region", "postgresMajorVersion", "ipAllowList",
    "readReplicas", "highAvailability", "diskSizeGB", "previewDiskSizeGB",
}
ROOT_FIELDS = {"services", "databases", "envVarGroups", "projects", "ungrouped", "previews"}
check(set(render) <= ROOT_FIELDS, f"render.yaml: root fields are Blueprint fields ({sorted(set(render) - ROOT_FIELDS)})")
r_services = {s.get("name"): s for s in render.get("services", [])}
r_databases = {d.get("name"): d for d in render.get("databases", [])}
for s in r_services.values():
    check(set(s) <= SERVICE_FIELDS, f"render.yaml: {s.get('name')}: unknown fields {sorted(set(s) - SERVICE_FIELDS)}")
for d in r_databases.values():
    check(set(d) <= DATABASE_FIELDS, f"render.yaml: {d.get('name')}: unknown fields {sorted(set(d) - DATABASE_FIELDS)}")
webs = [s for s in r_services.values() if s.get("type") == "web"]
workers = [s for s in r_services.values() if s.get("type") == "worker"]
kvs = [s for s in r_services.values() if s.get("type") in ("keyvalue", "redis")]
check(len(webs) == 1 and len(workers) == 1, "render.yaml: one web service and one background worker")
check(len(kvs) == 1 and len(r_databases) == 1, "render.yaml: one Key Value instance and one PostgreSQL database")
check(all("ipAllowList" in kv for kv in kvs), "render.yaml: Key Value has ipAllowList (required)")
groups = {g["name"]: {e["key"]: e for e in g.get("envVars", [])} for g in render.get("envVarGroups", [])}


def render_env(service):
    merged = {}
    for entry in service.get("envVars", []):
        if "fromGroup" in entry:
            check(entry["fromGroup"] in groups, f"render.yaml: {service['name']}: group {entry['fromGroup']} exists")
            merged.update(groups.get(entry["fromGroup"], {}))
        else:
            merged[entry["key"]] = entry
    return merged


for s in webs + workers:
    name = s["name"]
    check(s.get("runtime") == "docker", f"render.yaml: {name}: runtime docker")
    check(s.get("dockerfilePath", "").lstrip("./") == DOCKERFILE and Path(s["dockerfilePath"]).is_file(),
          f"render.yaml: {name}: dockerfilePath is {DOCKERFILE}")
    check(s.get("dockerContext") in (".", "./"), f"render.yaml: {name}: docker context is the repository root")
    e = render_env(s)
    known_settings(e, f"render.yaml {name}")
    db = e.get("DATABASE_URL", {}).get("fromDatabase", {})
    check(db.get("name") in r_databases and db.get("property") == "connectionString",
          f"render.yaml: {name}: DATABASE_URL from the database's connectionString")
    kv = e.get("REDIS_URL", {}).get("fromService", {})
    check(kv.get("type") == "keyvalue" and kv.get("name") in {k["name"] for k in kvs} and kv.get("property") == "connectionString",
          f"render.yaml: {name}: REDIS_URL from the Key Value instance's connectionString")
    check(e.get("JOBS_BACKEND", {}).get("value") == "redis", f"render.yaml: {name}: JOBS_BACKEND = redis")
    check(e.get("APP_ENV", {}).get("value") == "production", f"render.yaml: {name}: APP_ENV = production")
    literal_secrets = [k for k, v in e.items() if SECRET.search(k) and "value" in v]
    check(not literal_secrets, f"render.yaml: {name}: no secret written in the file ({literal_secrets})")
for s in webs:
    e = render_env(s)
    check(s.get("healthCheckPath") == "/readyz", "render.yaml: web healthCheckPath /readyz")
    check("dockerCommand" not in s or s["dockerCommand"].split()[:1] == ["serve"],
          "render.yaml: web runs the image's `serve` (housekeeping included)")
    check(str(e.get("PORT", {}).get("value")) == "8080" and e.get("HOST", {}).get("value") == "0.0.0.0",
          "render.yaml: web listens on 0.0.0.0:8080")
    check(str(e.get("TRUST_FORWARDED_FOR", {}).get("value")) == "true", "render.yaml: web TRUST_FORWARDED_FOR = true")
    check(e.get("PUBLIC_URL", {}).get("sync") is False, "render.yaml: PUBLIC_URL is asked for at creation (sync: false)")
    livekit = [k for k in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET") if e.get(k, {}).get("sync") is False]
    check(len(livekit) == 3, "render.yaml: web asks for LIVEKIT_URL/API_KEY/API_SECRET (no UDP on Render)")
for s in workers:
    check(s.get("dockerCommand", "").split() == ["worker"], "render.yaml: worker dockerCommand is `worker` (replaces CMD)")
    check("healthCheckPath" not in s, "render.yaml: no health check path on the worker (it serves no HTTP)")

# --- Railway (config as code) ----------------------------------------------------------
BUILD_FIELDS = {"builder", "dockerfilePath", "buildCommand", "watchPatterns", "railpackVersion"}
DEPLOY_FIELDS = {
    "startCommand", "preDeployCommand", "multiRegionConfig", "numReplicas", "healthcheckPath",
    "healthcheckTimeout", "restartPolicyType", "restartPolicyMaxRetries", "cronSchedule",
    "overlapSeconds", "drainingSeconds", "sleepApplication", "region", "runtime",
}
build = railway.get("build", {})
deploy = railway.get("deploy", {})
check(set(railway) <= {"$schema", "build", "deploy", "environments"}, f"railway.json: top-level fields ({sorted(railway)})")
check(set(build) <= BUILD_FIELDS, f"railway.json: build fields ({sorted(set(build) - BUILD_FIELDS)})")
check(set(deploy) <= DEPLOY_FIELDS, f"railway.json: deploy fields ({sorted(set(deploy) - DEPLOY_FIELDS)})")
check(build.get("builder") == "DOCKERFILE", "railway.json: builder DOCKERFILE")
check(build.get("dockerfilePath") == DOCKERFILE, f"railway.json: dockerfilePath is {DOCKERFILE}")
# Railway's start command replaces the image's ENTRYPOINT, so it names the binary.
check(deploy.get("startCommand", "").split() == ["/app/solace", "serve"], "railway.json: startCommand `/app/solace serve`")
check(deploy.get("preDeployCommand") == ["/app/solace migrate"], "railway.json: preDeployCommand `/app/solace migrate`")
check(deploy.get("healthcheckPath") == "/readyz", "railway.json: healthcheckPath /readyz")
check(deploy.get("restartPolicyType") in ("ON_FAILURE", "ALWAYS"), "railway.json: restarts a crashed server")
check(isinstance(deploy.get("restartPolicyMaxRetries", 0), int), "railway.json: restartPolicyMaxRetries is a number")

# --- Vercel (web app only) ---------------------------------------------------------------
# Top-level keys of VercelConfig (@vercel/config 0.7 types; buildCommand & co. ≤ 256 chars
# per Vercel's project settings schema).
VERCEL_FIELDS = {
    "$schema", "alias", "build", "builds", "cleanUrls", "env", "functions", "git", "github", "headers",
    "images", "name", "redirects", "bulkRedirectsPath", "regions", "passiveRegions", "rewrites", "routes",
    "scope", "trailingSlash", "version", "wildcard", "buildCommand", "ignoreCommand", "devCommand",
    "framework", "installCommand", "outputDirectory", "crons", "relatedProjects", "fluid", "bunVersion",
}
check(set(vercel) <= VERCEL_FIELDS, f"vercel.json: top-level fields ({sorted(set(vercel) - VERCEL_FIELDS)})")
for key in ("installCommand", "buildCommand", "outputDirectory"):
    check(isinstance(vercel.get(key), str) and 0 < len(vercel[key]) <= 256, f"vercel.json: {key} set, at most 256 characters")
check(vercel.get("outputDirectory") == "apps/frontend/out", "vercel.json: outputDirectory apps/frontend/out")
check(f"--filter {frontend_name} build" in vercel.get("buildCommand", ""), f"vercel.json: builds {frontend_name}")
check("--frozen-lockfile" in vercel.get("installCommand", ""), "vercel.json: installs from the lockfile")
check(re.search(r'output:\s*"export"', next_config) is not None, "next.config.ts: production build is a static export")
check(re.search(r"trailingSlash:\s*true", next_config) is not None, "next.config.ts: export uses trailing slashes (pages are dir/index.html)")
check(vercel.get("trailingSlash") is not True,
      "vercel.json: trailingSlash is not true — Vercel would 308 /api/... to /api/.../ before the rewrite")
check(vercel.get("git", {}).get("deploymentEnabled") is False,
      "vercel.json: Git deployments off — deploy with `vercel build` + the CSP hash step + `vercel deploy --prebuilt`")
rewrites = {r["source"]: r["destination"] for r in vercel.get("rewrites", [])}
origins = set()
for source, suffix in (("/api/:path*", "/api/:path*"), ("/healthz", "/healthz"), ("/readyz", "/readyz"), ("/models/:path*", "/models/:path*")):
    destination = rewrites.get(source, "")
    match = re.fullmatch(r"(https://[^/]+)" + re.escape(suffix), destination)
    check(match is not None, f"vercel.json: rewrite {source} → https://<backend>{suffix}")
    if match:
        origins.add(match.group(1))
check(len(origins) == 1, f"vercel.json: every rewrite goes to one backend origin ({sorted(origins)})")
backend = next(iter(origins), "")
if "example.org" in backend:
    warnings.append(f"vercel.json: the backend origin is still the placeholder {backend} (rewrites and connect-src)")

# Headers: the same values the backend sends (web.rs, app.rs).
all_headers = {}
for rule in vercel.get("headers", []):
    if rule.get("source") == "/(.*)":
        all_headers.update({h["key"].lower(): h["value"] for h in rule.get("headers", [])})
for name in ("strict-transport-security", "x-content-type-options", "referrer-policy", "x-frame-options"):
    value = all_headers.get(name)
    check(value is not None and f'"{value}"' in app_rs, f"vercel.json: {name} on every path, same value as app.rs ({value})")
permissions = re.search(r'PERMISSIONS_POLICY: &str =\s*"([^"]+)"', web_rs)
check(permissions is not None and all_headers.get("permissions-policy") == permissions.group(1),
      "vercel.json: Permissions-Policy equals web.rs PERMISSIONS_POLICY")
csp_fn = re.search(r"pub fn content_security_policy.*?\n\}", web_rs, re.S)
backend_directives = {}
for literal in re.findall(r'"((?:[a-z]+-)*(?:src|uri|action|ancestors) [^"]*)"', csp_fn.group(0) if csp_fn else ""):
    directive = re.sub(r"\{\}", "", literal)
    name, _, value = directive.partition(" ")
    backend_directives[name] = value.split()
vercel_directives = {}
for part in all_headers.get("content-security-policy", "").split(";"):
    name, _, value = part.strip().partition(" ")
    if name:
        vercel_directives[name] = value.split()
check(set(vercel_directives) == set(backend_directives),
      f"vercel.json: CSP has the backend's directives (missing {sorted(set(backend_directives) - set(vercel_directives))}, extra {sorted(set(vercel_directives) - set(backend_directives))})")
for name, value in backend_directives.items():
    if name == "connect-src":
        continue
    check(vercel_directives.get(name) == value, f"vercel.json: CSP {name} equals the backend's ({vercel_directives.get(name)} vs {value})")
check("'unsafe-inline'" not in vercel_directives.get("script-src", []) and "'unsafe-eval'" not in vercel_directives.get("script-src", []),
      "vercel.json: no 'unsafe-inline'/'unsafe-eval' in script-src (inline scripts are allowed by hash at deploy time)")
signal = "wss://" + backend.removeprefix("https://")
check(vercel_directives.get("connect-src", [])[:2] == ["'self'", signal],
      f"vercel.json: connect-src 'self' {signal} (SIGNAL_ORIGIN: the rooms' WebSocket goes to the backend directly)")
cache_rules = [r for r in vercel.get("headers", []) if r.get("source") == "/_next/static/(.*)"]
check(any(h["value"] == "public, max-age=31536000, immutable" for r in cache_rules for h in r["headers"]),
      "vercel.json: hashed build assets are immutable, as the backend serves them")

# Vercel's own schemas and route compiler (@vercel/routing-utils).
node = r"""
const path = process.env.ROUTING_UTILS;
const utils = require(path);
const schemas = require(path + "/dist/schemas.js");
const Ajv = require(require.resolve("ajv", { paths: [path] }));
const config = require(process.cwd() + "/vercel.json");
const ajv = new Ajv();
const errors = [];
for (const [key, schema] of [["rewrites", schemas.rewritesSchema], ["redirects", schemas.redirectsSchema],
                             ["headers", schemas.headersSchema], ["cleanUrls", schemas.cleanUrlsSchema],
                             ["trailingSlash", schemas.trailingSlashSchema]]) {
  if (config[key] === undefined) continue;
  if (!ajv.validate(schema, config[key])) errors.push(key + ": " + ajv.errorsText());
}
const compiled = utils.getTransformedRoutes(config);
console.log(JSON.stringify({ errors, compileError: compiled.error && compiled.error.message, routes: compiled.routes }));
"""
result = subprocess.run(["node", "-e", node], capture_output=True, text=True, env=os.environ)
check(result.returncode == 0, f"vercel.json: @vercel/routing-utils ran ({result.stderr.strip()[:300]})")
if result.returncode == 0:
    out = json.loads(result.stdout)
    check(not out["errors"], f"vercel.json: valid against Vercel's schemas ({out['errors']})")
    check(out["compileError"] is None, f"vercel.json: Vercel's route compiler accepts it ({out['compileError']})")
    routes = out["routes"] or []

    def first_route(path):
        """The first route that acts on `path`: a redirect (status) or a rewrite (dest)."""
        for route in routes:
            if "src" in route and re.search(route["src"], path) and ("status" in route or "dest" in route):
                return route
        return None

    for path in ("/api/auth/guest", "/api", "/api/rooms/r1/signal-token", "/healthz", "/readyz", "/models/whisper-tiny.en/config.json"):
        route = first_route(path)
        check(route is not None and route.get("dest", "").startswith(backend) and "status" not in route,
              f"vercel.json: {path} is proxied to the backend, not redirected ({route})")
    for path in ("/chat", "/rooms", "/settings/privacy"):
        route = first_route(path)
        check(route is not None and route.get("status") in (301, 308) and route["headers"]["Location"].endswith("/"),
              f"vercel.json: {path} redirects to {path}/ (the export's dir/index.html)")
    for path in ("/", "/chat/", "/_next/static/chunks/main.js", "/favicon.ico"):
        check(first_route(path) is None, f"vercel.json: {path} is served from the export as it is")

for line in warnings:
    print(f"check-platforms: warning: {line}")
for line in failures:
    print(f"check-platforms: FAIL {line}")
print(f"check-platforms: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
PY
