import { describe, expect, it } from "vitest";

import {
  ApiError,
  apiFetch,
  downloadPercent,
  forgetAllMemory,
  forgetMemoryItem,
  getCrisisResources,
  getHealth,
  getMe,
  getMemory,
  installing,
  setMemoryChoices,
  trackEvent,
  type ModelDownload,
} from "./api";

type Call = { url: string; init: RequestInit };

/** A stand-in for `fetch` that records calls and answers with a fixed response. */
function fakeFetch(status: number, body: string | null, calls: Call[] = []) {
  return async (input: RequestInfo | URL, init: RequestInit = {}) => {
    calls.push({ url: String(input), init });
    return new Response(body, { status, headers: { "Content-Type": "application/json" } });
  };
}

describe("apiFetch", () => {
  it("prefixes /api, asks for JSON and returns the decoded body", async () => {
    const calls: Call[] = [];
    const result = await apiFetch<{ ok: boolean }>(
      "/things",
      {},
      fakeFetch(200, '{"ok":true}', calls),
    );

    expect(result).toEqual({ ok: true });
    expect(calls[0]?.url).toBe("/api/things");
    expect(new Headers(calls[0]?.init.headers).get("Accept")).toBe("application/json");
  });

  it("sends JSON bodies with a JSON content type", async () => {
    const calls: Call[] = [];
    await apiFetch("/things", { method: "POST", body: "{}" }, fakeFetch(202, '{"id":"1"}', calls));

    expect(new Headers(calls[0]?.init.headers).get("Content-Type")).toBe("application/json");
  });

  it("turns the house error body into an ApiError with status and code", async () => {
    const failing = fakeFetch(422, '{"error":"invalid_region","message":"Use two letters."}');

    const error = await apiFetch("/crisis/resources", {}, failing).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 422,
      code: "invalid_region",
      message: "Use two letters.",
    });
    expect((error as ApiError).retryable).toBe(false);
  });

  it("reports a non-JSON error page as an unexpected, retryable response", async () => {
    const error = await apiFetch("/x", {}, fakeFetch(502, "<html>Bad gateway</html>")).catch(
      (e: unknown) => e,
    );

    expect(error).toMatchObject({ status: 502, code: "unexpected_response" });
    expect((error as ApiError).retryable).toBe(true);
  });

  it("reports an unreachable server as a network error", async () => {
    const offline = async () => {
      throw new TypeError("Failed to fetch");
    };

    const error = await apiFetch("/x", {}, offline).catch((e: unknown) => e);

    expect(error).toMatchObject({ status: 0, code: "network_error" });
  });
});

describe("endpoints", () => {
  it("getHealth calls /healthz outside /api", async () => {
    const calls: Call[] = [];
    const health = await getHealth(fakeFetch(200, '{"status":"ok","version":"0.1.0"}', calls));

    expect(health.version).toBe("0.1.0");
    expect(calls[0]?.url).toBe("/healthz");
  });

  it("getCrisisResources passes the region as a query parameter", async () => {
    const calls: Call[] = [];
    await getCrisisResources("GB", fakeFetch(200, '{"region":"GB","lines":[]}', calls));

    expect(calls[0]?.url).toBe("/api/crisis/resources?region=GB");
  });

  it("trackEvent never throws, even when the server fails", async () => {
    await expect(trackEvent({ name: "pageview" }, fakeFetch(500, "oops"))).resolves.toBeUndefined();
  });
});

describe("memory", () => {
  it("pages with limit and offset, and names each call's method and path", async () => {
    const calls: Call[] = [];
    const page =
      '{"status":{"available":true},"choices":{"paused":false,"hard_moments":false},"items":[],"total":0}';

    await getMemory({ limit: 5, offset: 10 }, fakeFetch(200, page, calls));
    await forgetMemoryItem("a/b", fakeFetch(204, null, calls));
    await forgetAllMemory(fakeFetch(204, null, calls));
    const choices = await setMemoryChoices(
      { paused: true, hard_moments: false },
      fakeFetch(200, '{"paused":true,"hard_moments":false}', calls),
    );

    expect(calls.map((call) => [call.init.method ?? "GET", call.url])).toEqual([
      ["GET", "/api/memory?limit=5&offset=10"],
      ["DELETE", "/api/memory/items/a%2Fb"],
      ["DELETE", "/api/memory"],
      ["PUT", "/api/memory/choices"],
    ]);
    expect(JSON.parse(String(calls[3]?.init.body))).toEqual({ paused: true, hard_moments: false });
    expect(choices).toEqual({ paused: true, hard_moments: false });
  });

  it("asks for the first twenty by default", async () => {
    const calls: Call[] = [];
    await getMemory(undefined, fakeFetch(200, "{}", calls));

    expect(calls[0]?.url).toBe("/api/memory?limit=20&offset=0");
  });
});

describe("sessions and CSRF", () => {
  it("sends the CSRF token from the last session on state-changing requests only", async () => {
    const session = '{"user":{"id":"u1"},"csrf_token":"tok-123"}';
    await getMeWith(fakeFetch(200, session));
    const calls: Call[] = [];
    const recorder = fakeFetch(200, "{}", calls);

    await apiFetch("/things", {}, recorder);
    await apiFetch("/things", { method: "DELETE" }, recorder);

    expect(new Headers(calls[0]?.init.headers).get("X-CSRF-Token")).toBeNull();
    expect(new Headers(calls[1]?.init.headers).get("X-CSRF-Token")).toBe("tok-123");
  });

  it("treats a 401 from /auth/me as signed out and forgets the token", async () => {
    await getMeWith(fakeFetch(200, '{"user":{"id":"u1"},"csrf_token":"tok-123"}'));

    const me = await getMe(fakeFetch(401, '{"error":"not_signed_in","message":"Please sign in."}'));
    const calls: Call[] = [];
    await apiFetch("/things", { method: "POST", body: "{}" }, fakeFetch(200, "{}", calls));

    expect(me).toBeNull();
    expect(new Headers(calls[0]?.init.headers).get("X-CSRF-Token")).toBeNull();
  });

  it("passes other /auth/me failures on", async () => {
    const failure = await getMe(fakeFetch(503, '{"error":"not_ready","message":"Down."}')).catch(
      (e: unknown) => e,
    );

    expect(failure).toMatchObject({ status: 503 });
  });
});

async function getMeWith(fetchImpl: ReturnType<typeof fakeFetch>) {
  return getMe(fetchImpl);
}

describe("model downloads", () => {
  const download = (done: number, total: number | null, state: ModelDownload["state"]) =>
    ({ choice: "llama-3.2-1b", state, done_bytes: done, total_bytes: total }) as ModelDownload;

  it("says how far a download has come, and nothing when its size is unknown", () => {
    expect(downloadPercent(download(0, 800, "downloading"))).toBe(0);
    expect(downloadPercent(download(399, 800, "downloading"))).toBe(49);
    expect(downloadPercent(download(900, 800, "loading"))).toBe(100);
    expect(downloadPercent(download(10, null, "downloading"))).toBeNull();
  });

  it("counts downloading and loading as installing, nothing else", () => {
    expect(installing(download(1, 2, "downloading"))).toBe(true);
    expect(installing(download(2, 2, "loading"))).toBe(true);
    expect(installing(download(2, 2, "ready"))).toBe(false);
    expect(installing(download(1, 2, "failed"))).toBe(false);
    expect(installing(null)).toBe(false);
  });
});
