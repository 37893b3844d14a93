import { expect, test } from "@playwright/test";

import { PAGES, snapshot } from "./helpers";

test("the crisis page is reachable from the footer and lists 988 and Samaritans", async ({
  page,
}) => {
  await page.goto("/");

  await page.getByRole("contentinfo").getByRole("link", { name: "Crisis resources" }).click();

  await expect(page).toHaveURL(/\/crisis\/$/);
  await expect(page.getByRole("heading", { level: 1, name: "Crisis resources" })).toBeVisible();
  const lines = page.getByTestId("crisis-lines");
  await expect(lines.getByRole("link", { name: "988" }).first()).toHaveAttribute("href", "tel:988");
  await expect(lines.getByRole("link", { name: "116 123" })).toHaveAttribute("href", "tel:116123");
  await expect(page.getByRole("link", { name: "findahelpline.com" })).toBeVisible();
  await snapshot(page, "crisis");
});

test("the crisis page puts the lines for the browser's region first", async ({ browser }) => {
  const context = await browser.newContext({ locale: "en-GB" });
  const page = await context.newPage();

  await page.goto("/crisis/");

  const nearby = page.getByTestId("nearby-lines");
  await expect(nearby.getByRole("link", { name: "116 123" })).toBeVisible();
  await context.close();
});

test("the crisis link in the navbar is on every page", async ({ page }) => {
  for (const path of PAGES) {
    await page.goto(path);
    await expect(
      page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Get help now" }),
    ).toHaveAttribute("href", "/crisis/");
  }
});

for (const [name, heading] of [
  ["About", "About Solace"],
  ["Privacy", "Privacy"],
  ["Terms", "Terms of use"],
]) {
  test(`the ${name} page opens from the footer with its heading`, async ({ page }) => {
    await page.goto("/");

    await page.getByRole("contentinfo").getByRole("link", { name }).click();

    await expect(page.getByRole("heading", { level: 1, name: heading })).toBeVisible();
    await snapshot(page, name.toLowerCase());
  });
}

test("an unknown page shows a friendly 404 with a way back", async ({ page }) => {
  const response = await page.goto("/this/page/does/not/exist");

  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "We could not find that page" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Go to the start" })).toBeVisible();
});

test("the API and the web app share one origin", async ({ request }) => {
  const health = await request.get("/healthz");
  const unknownApi = await request.get("/api/nothing-here");

  expect(health.ok()).toBe(true);
  expect(await health.json()).toMatchObject({ status: "ok" });
  expect(unknownApi.status()).toBe(404);
  expect(await unknownApi.json()).toMatchObject({ error: "not_found" });
});

test("the skip link moves keyboard focus to the main content", async ({ page }) => {
  await page.goto("/about/");

  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  await expect(skip).toBeFocused();
  await page.keyboard.press("Enter");

  await expect(page).toHaveURL(/#main$/);
});

// The Content-Security-Policy allows no inline script but the web app's own, by hash:
// every page hydrates (its interactive parts work) and the browser reports no violation.
test("every page runs under a policy without 'unsafe-inline' scripts", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to (execute|load)/i.test(message.text())) {
      violations.push(`${page.url()}: ${message.text()}`);
    }
  });
  for (const path of [...PAGES, "/account/", "/admin/"]) {
    const response = await page.goto(path);
    const policy = response?.headers()["content-security-policy"] ?? "";
    const scripts = policy.split(";").find((d) => d.trim().startsWith("script-src")) ?? "";
    expect(scripts).not.toContain("'unsafe-inline'");
    expect(scripts).toContain("'sha256-");
    // Hydrated: Next.js's client runtime started (it sets `window.next`).
    await page.waitForFunction(() => (window as unknown as { next?: unknown }).next !== undefined);
  }
  expect(violations).toEqual([]);
});

test("the crisis page opens without a network, and any page offline leads to it", async ({
  browser,
}) => {
  const context = await browser.newContext({ serviceWorkers: "allow" });
  const page = await context.newPage();
  await page.goto("/");
  // Installable: the manifest is linked and names the icons.
  const href = await page.locator('link[rel="manifest"]').getAttribute("href");
  const manifest = await page.request.get(href!);
  expect(manifest.ok()).toBe(true);
  const app = await manifest.json();
  expect(app.display).toBe("standalone");
  expect(app.icons.map((i: { sizes: string }) => i.sizes)).toEqual(["192x192", "512x512", "any"]);
  // The service worker has kept the crisis page.
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await expect
    .poll(() => page.evaluate(async () => (await caches.keys()).length))
    .toBeGreaterThan(0);

  await context.setOffline(true);
  await page.goto("/crisis/");
  await expect(page.getByRole("heading", { level: 1, name: "Crisis resources" })).toBeVisible();
  await expect(page.getByText("988").first()).toBeVisible();
  // A page that was never kept: the crisis page stands in.
  await page.goto("/safety-plan/");
  await expect(page.getByRole("heading", { level: 1, name: "Crisis resources" })).toBeVisible();
  await context.setOffline(false);
  await context.close();
});
