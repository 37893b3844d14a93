import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import type { Page } from "@playwright/test";

const artifacts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../artifacts");

/** Saves a full-page screenshot under tests/e2e/artifacts/ (git-ignored) for people to look at. */
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
