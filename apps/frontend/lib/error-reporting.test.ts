import type { ErrorEvent } from "@sentry/browser";
import { describe, expect, it } from "vitest";

import { mask, route, scrubBreadcrumb, scrubEvent } from "./error-reporting";

const secret = "I have been planning to end it 7731";

function privateEvent(): ErrorEvent {
  return {
    type: undefined,
    event_id: "e1",
    level: "error",
    release: "solace@0.1.0",
    message: `could not send "${secret}" for ana@example.org`,
    exception: {
      values: [
        {
          type: "Error",
          value: `Unexpected token 'I', "${secret}" is not valid JSON; for ana@example.org`,
          stacktrace: {
            frames: [
              {
                filename: "/_next/static/chunks/app.js",
                function: "send",
                lineno: 3,
                vars: { text: secret },
              },
            ],
          },
        },
      ],
    },
    request: {
      url: "https://solace.example.org/chat/?session=0b7d2c1e4f4a&email=ana@example.org#x",
      headers: {
        "User-Agent": "Chromium",
        Cookie: "solace_session=abc",
        Referer: "https://x/?q=1",
      },
      data: JSON.stringify({ content: secret }),
    },
    user: { email: "ana@example.org", ip_address: "{{auto}}" },
    extra: { draft: secret },
    tags: { request_id: "req-9", draft: secret },
    contexts: { browser: { name: "Chrome" }, app: { app_name: secret } },
    breadcrumbs: [
      { category: "console", message: secret },
      { category: "ui.input", message: "textarea#composer" },
      { category: "ui.click", message: "button[aria-label='Send']" },
      {
        category: "fetch",
        data: {
          method: "POST",
          url: "/api/chat/sessions/0b7d2c1e4f4a/messages?x=1",
          status_code: 502,
        },
      },
      { category: "navigation", data: { from: "/?ref=mail", to: "/chat/?q=secret" } },
    ],
  };
}

describe("error reports", () => {
  it("keep the error, the route and the request id, and nothing anyone wrote", () => {
    const scrubbed = scrubEvent(privateEvent());
    const json = JSON.stringify(scrubbed);

    for (const forbidden of [
      secret,
      "ana@example.org",
      "solace_session",
      "session=",
      "ref=mail",
      "q=secret",
      "ip_address",
      "draft",
      "vars",
    ]) {
      expect(json, forbidden).not.toContain(forbidden);
    }
    expect(scrubbed.user).toBeUndefined();
    expect(scrubbed.extra).toBeUndefined();
    expect(scrubbed.tags).toEqual({ request_id: "req-9" });
    expect(scrubbed.request?.url).toMatch(/\/chat\/$/);
    expect(scrubbed.request?.headers).toEqual({ "User-Agent": "Chromium" });
    expect(scrubbed.exception?.values?.[0]?.value).toBe(
      "Unexpected token [quoted], [quoted] is not valid JSON; for [email]",
    );
    expect(scrubbed.message).toBe("could not send [quoted] for [email]");
    expect(scrubbed.exception?.values?.[0]?.stacktrace?.frames?.[0]?.function).toBe("send");
    expect(scrubbed.breadcrumbs?.map((b) => b.category)).toEqual(["fetch", "navigation"]);
    expect(scrubbed.breadcrumbs?.[0]?.data?.url).toBe("/api/chat/sessions/:id/messages");
    expect(scrubbed.contexts).toEqual({ browser: { name: "Chrome" } });
  });

  it("mask emails and cap length, and reduce URLs to routes", () => {
    expect(mask("write to a.b@c.org now")).toBe("write to [email] now");
    expect(mask("x".repeat(5_000))).toHaveLength(301);
    expect(route("https://h/rooms/live/?id=abc#x")).toBe("/rooms/live/");
    expect(route("/api/rooms/01HXYZ12345678/join")).toBe("/api/rooms/:id/join");
    expect(scrubBreadcrumb({ category: "console", message: "anything" })).toBeNull();
  });
});
