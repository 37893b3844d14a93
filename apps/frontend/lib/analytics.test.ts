import { afterEach, beforeEach, describe, expect, it } from "vitest";

import {
  browserOptsOut,
  setStatistics,
  statisticsAllowed,
  track,
  trackOnce,
  visitId,
} from "./analytics";
import type { AnalyticsEvent } from "./api";

function recorder() {
  const sent: AnalyticsEvent[] = [];
  return { sent, send: async (event: AnalyticsEvent) => void sent.push(event) };
}

function setSignals(doNotTrack: string | null, gpc: boolean | undefined) {
  Object.defineProperty(navigator, "doNotTrack", { value: doNotTrack, configurable: true });
  Object.defineProperty(navigator, "globalPrivacyControl", { value: gpc, configurable: true });
}

describe("analytics", () => {
  beforeEach(() => {
    localStorage.clear();
    sessionStorage.clear();
    setSignals(null, undefined);
    window.history.replaceState(null, "", "/chat?email=someone@example.org");
  });
  afterEach(() => setSignals(null, undefined));

  it("sends the route, a stable visit id and the properties", () => {
    const { sent, send } = recorder();
    track("cta.click", { cta: "start_chat" }, send);
    track("pageview", undefined, send);

    expect(sent).toHaveLength(2);
    expect(sent[0]).toEqual({
      name: "cta.click",
      path: "/chat",
      visit: visitId(),
      properties: { cta: "start_chat" },
    });
    expect(sent[1]?.visit).toBe(sent[0]?.visit);
    expect(sent[0]?.visit).toMatch(/^[A-Za-z0-9-]{8,64}$/);
  });

  it("a new tab is a new visit", () => {
    const first = visitId();
    sessionStorage.clear();
    expect(visitId()).not.toBe(first);
  });

  it("sends nothing under Do Not Track or Global Privacy Control", () => {
    for (const [dnt, gpc] of [
      ["1", undefined],
      [null, true],
    ] as const) {
      setSignals(dnt, gpc);
      const { sent, send } = recorder();
      expect(browserOptsOut()).toBe(true);
      track("pageview", undefined, send);
      trackOnce("chat.started", undefined, send);
      expect(sent).toHaveLength(0);
    }
    setSignals("0", false);
    expect(statisticsAllowed()).toBe(true);
  });

  it("sends nothing once the person turns statistics off, and again when back on", () => {
    const { sent, send } = recorder();
    setStatistics(false);
    track("pageview", undefined, send);
    expect(sent).toHaveLength(0);
    setStatistics(true);
    track("pageview", undefined, send);
    expect(sent).toHaveLength(1);
  });

  it("counts a funnel step once per visit", () => {
    const { sent, send } = recorder();
    trackOnce("chat.started", undefined, send);
    trackOnce("chat.started", undefined, send);
    trackOnce("chat.reply_seen", undefined, send);
    expect(sent.map((e) => e.name)).toEqual(["chat.started", "chat.reply_seen"]);
  });
});
