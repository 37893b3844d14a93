import { trackEvent, type AnalyticsEvent } from "./api";

/**
 * Anonymous product statistics: page views, call-to-action clicks and funnel steps
 * (landing → chat started → first reply seen; landing → room entered → spoke), sent
 * first-party to `/api/events` — never what anyone wrote, no cookie, no account.
 *
 * Nothing is sent when the browser asks not to be tracked (Do Not Track or Global
 * Privacy Control) or once the person turned statistics off on their account page. A
 * random visit id, kept in `sessionStorage` and gone with the tab, joins one visit's
 * funnel steps.
 */

export const OPT_OUT_KEY = "solace.statistics";
const VISIT_KEY = "solace.visit";
const ONCE_KEY = "solace.visit.once";

type PrivacySignals = {
  doNotTrack?: string | null;
  globalPrivacyControl?: boolean;
};

/** Whether the browser itself asks not to be tracked. */
export function browserOptsOut(
  nav: PrivacySignals = navigator as Navigator & PrivacySignals,
): boolean {
  return nav.doNotTrack === "1" || nav.globalPrivacyControl === true;
}

function storage(kind: "localStorage" | "sessionStorage"): Storage | null {
  try {
    return typeof window === "undefined" ? null : window[kind];
  } catch {
    // Storage can be blocked (private modes, sandboxed frames).
    return null;
  }
}

/** Whether the person has turned statistics off on this device. */
export function statisticsOff(): boolean {
  return storage("localStorage")?.getItem(OPT_OUT_KEY) === "off";
}

export function setStatistics(on: boolean): void {
  const local = storage("localStorage");
  if (on) local?.removeItem(OPT_OUT_KEY);
  else local?.setItem(OPT_OUT_KEY, "off");
}

/** Whether anything may be sent now. */
export function statisticsAllowed(): boolean {
  return typeof window !== "undefined" && !browserOptsOut() && !statisticsOff();
}

function newId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return Array.from({ length: 4 }, () => Math.random().toString(36).slice(2, 10)).join("-");
}

/** This tab's random visit id. */
export function visitId(): string {
  const session = storage("sessionStorage");
  const existing = session?.getItem(VISIT_KEY);
  if (existing) return existing;
  const id = newId();
  session?.setItem(VISIT_KEY, id);
  return id;
}

type Properties = AnalyticsEvent["properties"];

/** Records an event on the current page, when allowed. */
export function track(
  name: string,
  properties?: Properties,
  send: (event: AnalyticsEvent) => Promise<void> = trackEvent,
): void {
  if (!statisticsAllowed()) return;
  void send({
    name,
    path: window.location.pathname,
    visit: visitId(),
    ...(properties ? { properties } : {}),
  });
}

/** Records a funnel step at most once per visit. */
export function trackOnce(
  name: string,
  properties?: Properties,
  send: (event: AnalyticsEvent) => Promise<void> = trackEvent,
): void {
  if (!statisticsAllowed()) return;
  const session = storage("sessionStorage");
  const done = new Set((session?.getItem(ONCE_KEY) ?? "").split(",").filter(Boolean));
  if (done.has(name)) return;
  done.add(name);
  session?.setItem(ONCE_KEY, [...done].join(","));
  track(name, properties, send);
}
