// A stand-in for the services Solace reports to, for the browser tests: Sentry's
// envelope endpoint (the web app's error reports), PostHog's batch capture and
// Plausible's events API (forwarded analytics). It keeps what arrives;
// `GET /received` returns it all. Usage: node fake-collector.mjs 127.0.0.1:18093
import { createServer } from "node:http";

const [host, port] = (process.argv[2] ?? "127.0.0.1:18093").split(":");
const received = { sentry: [], posthog: [], plausible: [] };

const cors = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "*",
  "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
};

createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const path = new URL(request.url ?? "/", "http://x").pathname;
    const reply = (status, json) => {
      response.writeHead(status, { ...cors, "Content-Type": "application/json" });
      response.end(json === undefined ? "" : JSON.stringify(json));
    };
    if (request.method === "OPTIONS") return reply(204);
    if (request.method === "GET" && path === "/healthz") return reply(200, { ok: true });
    if (request.method === "GET" && path === "/received") return reply(200, received);
    if (request.method === "POST" && /^\/api\/\d+\/envelope\/?$/.test(path)) {
      received.sentry.push({ path, query: request.url, body });
      return reply(200, { id: "ok" });
    }
    if (request.method === "POST" && path === "/batch/") {
      received.posthog.push(JSON.parse(body));
      return reply(200, { status: 1 });
    }
    if (request.method === "POST" && path === "/api/event") {
      received.plausible.push({
        body: JSON.parse(body),
        userAgent: request.headers["user-agent"] ?? "",
        forwardedFor: request.headers["x-forwarded-for"] ?? "",
      });
      return reply(202);
    }
    return reply(404, { error: "not_found" });
  });
}).listen(Number(port), host, () => {
  console.log(`fake collector on http://${host}:${port}`);
});
