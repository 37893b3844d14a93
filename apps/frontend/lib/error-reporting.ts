import type { Breadcrumb, ErrorEvent, EventHint } from "@sentry/browser";

import { getClientConfig, setFailureReporter, type ApiFailure } from "./api";

/**
 * The web app's error reports (Sentry's browser SDK), on only when the server hands out
 * a DSN (`SENTRY_BROWSER_DSN`, via `/api/client-config`); the SDK is loaded only then.
 * Unhandled errors and promise rejections, and API calls that failed on the server's
 * side (5xx, or the network) with the request id that leads to the server's logs.
 *
 * Scrubbed by construction: every event is rebuilt from an allow-list (message and
 * exception — emails masked, length capped —, level, release, environment, the page's
 * route, a few tags, the browser's own contexts) and breadcrumbs keep only navigation
 * and HTTP calls by route. No request body, query string, cookie, user, IP address,
 * console output or clicked text leaves, so nothing anyone wrote can.
 */

const TAGS = new Set(["request_id", "status", "code", "route", "method"]);
const CONTEXTS = new Set(["browser", "os", "device", "culture", "trace"]);
const MAX = 300;

/**
 * Masks what an error text may quote: anything in quotes (parsers and many libraries quote
 * their input: `Unexpected token 'I', "I want to…" is not valid JSON`), anything shaped
 * like an email address; and caps the length.
 */
export function mask(text: string): string {
  const masked = text
    .replace(/"[^"]*"|'[^']*'|“[^”]*”|‘[^’]*’|`[^`]*`/g, "[quoted]")
    .replace(/[^\s@<>()"']+@[^\s@<>()"']+\.[^\s@<>()"']+/g, "[email]");
  return masked.length > MAX ? `${masked.slice(0, MAX)}…` : masked;
}

/** A URL or path reduced to its route: no query, no fragment, ids replaced. */
export function route(url: string): string {
  let path = url;
  try {
    path = new URL(url, "http://x").pathname;
  } catch {
    path = url.split(/[?#]/)[0] ?? "";
  }
  return path
    .split("/")
    .map((part) => (/\d/.test(part) && part.length >= 8 ? ":id" : part))
    .join("/");
}

export function scrubBreadcrumb(crumb: Breadcrumb): Breadcrumb | null {
  const category = crumb.category ?? "";
  const base = { category, type: crumb.type, level: crumb.level, timestamp: crumb.timestamp };
  if (category === "navigation") {
    const data = {
      from: route(String(crumb.data?.from ?? "")),
      to: route(String(crumb.data?.to ?? "")),
    };
    return { ...base, data };
  }
  if (category === "fetch" || category === "xhr") {
    const data = {
      method: crumb.data?.method,
      url: route(String(crumb.data?.url ?? "")),
      status_code: crumb.data?.status_code,
    };
    return { ...base, data };
  }
  // Console output and clicked elements may carry what someone typed: never sent.
  return null;
}

export function scrubEvent(event: ErrorEvent): ErrorEvent {
  const origin = typeof window === "undefined" ? "" : window.location.origin;
  const page = event.request?.url ? route(event.request.url) : undefined;
  const agent = event.request?.headers?.["User-Agent"];
  return {
    type: undefined,
    event_id: event.event_id,
    timestamp: event.timestamp,
    platform: event.platform,
    level: event.level,
    logger: event.logger,
    release: event.release,
    environment: event.environment,
    sdk: event.sdk,
    fingerprint: event.fingerprint,
    message: event.message === undefined ? undefined : mask(event.message),
    exception: event.exception && {
      values: event.exception.values?.map((value) => ({
        type: value.type,
        value: value.value === undefined ? undefined : mask(value.value),
        mechanism: value.mechanism,
        stacktrace: value.stacktrace && {
          frames: value.stacktrace.frames?.map((frame) => ({
            filename: frame.filename,
            function: frame.function,
            lineno: frame.lineno,
            colno: frame.colno,
            in_app: frame.in_app,
          })),
        },
      })),
    },
    request: page
      ? { url: `${origin}${page}`, ...(agent ? { headers: { "User-Agent": agent } } : {}) }
      : undefined,
    tags: Object.fromEntries(
      Object.entries(event.tags ?? {})
        .filter(([key]) => TAGS.has(key))
        .map(([key, value]) => [key, typeof value === "string" ? mask(value) : value]),
    ),
    contexts: Object.fromEntries(
      Object.entries(event.contexts ?? {}).filter(([key]) => CONTEXTS.has(key)),
    ),
    breadcrumbs: (event.breadcrumbs ?? [])
      .map(scrubBreadcrumb)
      .filter((crumb): crumb is Breadcrumb => crumb !== null),
  };
}

let started: Promise<void> | null = null;

/** Starts error reporting once, when the server has a DSN for the web app. */
export function startErrorReporting(): Promise<void> {
  started ??= (async () => {
    const config = await getClientConfig().catch(() => null);
    if (!config?.sentry_dsn) return;
    const Sentry = await import("@sentry/browser");
    Sentry.init({
      dsn: config.sentry_dsn,
      release: config.release,
      environment: config.environment,
      // Collect nothing about the person in the first place; scrubbing is the second line.
      dataCollection: {
        userInfo: false,
        cookies: false,
        httpHeaders: false,
        httpBodies: [],
        urlQueryParams: false,
        stackFrameVariables: false,
        genAI: { inputs: false, outputs: false },
      },
      maxBreadcrumbs: 30,
      beforeSend: (event: ErrorEvent, _hint: EventHint) => scrubEvent(event),
      beforeBreadcrumb: (crumb: Breadcrumb) => scrubBreadcrumb(crumb),
    });
    setFailureReporter((failure: ApiFailure) => {
      Sentry.captureMessage("API request failed", {
        level: "error",
        tags: {
          status: String(failure.status),
          code: failure.code,
          route: route(failure.url),
          method: failure.method,
          ...(failure.requestId ? { request_id: failure.requestId } : {}),
        },
      });
    });
  })();
  return started;
}
