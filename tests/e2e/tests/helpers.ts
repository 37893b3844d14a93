import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { expect, type Page } from "@playwright/test";

const artifacts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../artifacts");

/** Saves a full-page screenshot under tests/e2e/artifacts/ (git-ignored) for people to look at. */
/** Every page of the web app a visitor can open without signing in, and a missing one. */
export const PAGES = [
  "/",
  "/about/",
  "/privacy/",
  "/terms/",
  "/crisis/",
  "/grounding/",
  "/login/",
  "/signup/",
  "/chat/",
  "/rooms/",
  "/safety-plan/",
  "/memory/",
  "/no-such-page/",
];

export async function snapshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

/** Collects Content-Security-Policy violations the page reports, to assert there are none. */
export function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) seen.push(message.text());
  });
  return seen;
}

declare global {
  interface Window {
    /** Set by the web app's useRoom(): the live connection's WebRTC statistics and
     * what each remote voice's player is doing. */
    __solaceRoom?: {
      stats: () => Promise<RTCStatsReport | null>;
      playback: () => Record<string, { volume: number; playing: boolean }>;
    };
  }
}

/** Inbound audio on this page's room connection, from WebRTC statistics. */
export async function inbound(page: Page): Promise<{ bytes: number; level: number }> {
  return page.evaluate(async () => {
    const report = await window.__solaceRoom?.stats();
    let bytes = 0;
    let level = 0;
    report?.forEach(
      (s: { type: string; kind?: string; bytesReceived?: number; audioLevel?: number }) => {
        if (s.type === "inbound-rtp" && s.kind === "audio") {
          bytes += s.bytesReceived ?? 0;
          level = Math.max(level, s.audioLevel ?? 0);
        }
      },
    );
    return { bytes, level };
  });
}

/** Waits until audio keeps arriving: bytes rise and the level is above silence. */
export async function expectHearing(page: Page) {
  await expect
    .poll(async () => (await inbound(page)).bytes, { timeout: 20_000 })
    .toBeGreaterThan(2_000);
  const before = (await inbound(page)).bytes;
  await expect
    .poll(async () => (await inbound(page)).bytes, { timeout: 10_000 })
    .toBeGreaterThan(before + 1_000);
  await expect
    .poll(async () => (await inbound(page)).level, { timeout: 10_000 })
    .toBeGreaterThan(0.001);
}

export async function joinRoom(page: Page) {
  await page.getByTestId("join-room").click();
  await expect(page.getByTestId("connection-state")).toHaveText("Connected", { timeout: 20_000 });
  // Where the browser holds sound back until a click, the room offers that click.
  const start = page.getByRole("button", { name: "Start audio" });
  if (await start.isVisible({ timeout: 3_000 }).catch(() => false)) await start.click();
}
