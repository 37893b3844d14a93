import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { PAGES as pages } from "./helpers";

// Every page, in light and dark: no serious or critical WCAG 2.2 A/AA violation
// (axe-core), and nothing wider than the screen from a small phone to a wide desktop.

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"])
    .analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

async function settle(page: Page) {
  await page.waitForFunction(() => (window as unknown as { next?: unknown }).next !== undefined);
  // Entrance animations finish (reduced motion makes them instant).
  await page.waitForTimeout(100);
}

for (const scheme of ["light", "dark"] as const) {
  test(`every page has no serious accessibility violation (${scheme})`, async ({ page }) => {
    test.setTimeout(120_000);
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    const found: string[] = [];
    for (const path of pages) {
      await page.goto(path);
      await settle(page);
      found.push(...(await seriousViolations(page)).map((v) => `${path}: ${v}`));
    }
    expect(found).toEqual([]);
  });
}

test("the chat with a reply and with the crisis card has no serious violation", async ({
  page,
}) => {
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.goto("/chat/");
  const input = page.getByLabel("Your message");
  await input.fill("I have been feeling low this week");
  await input.press("Enter");
  await expect(page.getByTestId("ai-message").last()).toContainText("feeling low");
  expect(await seriousViolations(page)).toEqual([]);

  await input.fill("I'm going to kill myself tonight, I already wrote my goodbye letter");
  await input.press("Enter");
  await expect(page.getByTestId("crisis-card")).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
});

const widths = [320, 390, 768, 1280, 1920];

test("no page scrolls sideways from 320 px to 1920 px, light or dark", async ({ page }) => {
  test.setTimeout(180_000);
  const overflowing: string[] = [];
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    for (const width of widths) {
      await page.setViewportSize({ width, height: 800 });
      for (const path of pages) {
        await page.goto(path);
        await settle(page);
        const { scroll, client } = await page.evaluate(() => ({
          scroll: document.documentElement.scrollWidth,
          client: document.documentElement.clientWidth,
        }));
        if (scroll > client)
          overflowing.push(`${path} at ${width} px (${scheme}): ${scroll} > ${client}`);
      }
    }
  }
  expect(overflowing).toEqual([]);
});

async function fitsTheScreen(page: Page): Promise<boolean> {
  return page.evaluate(
    () => document.documentElement.scrollWidth <= document.documentElement.clientWidth,
  );
}

test("on a small phone a failed reply's banner and the account page fit and pass axe", async ({
  page,
}) => {
  await page.setViewportSize({ width: 320, height: 740 });
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.goto("/chat/");
  await expect(page.getByTestId("ai-disclosure")).toBeVisible();
  const input = page.getByLabel("Your message");
  await input.fill("A long night again [[fake:fail:502]]");
  await input.press("Enter");
  await expect(page.getByTestId("chat-error")).toBeVisible();
  expect(await fitsTheScreen(page)).toBe(true);
  expect(await seriousViolations(page)).toEqual([]);

  await page.goto("/signup/");
  await page.getByLabel("Email").fill(`a11y.${Date.now()}@example.org`);
  await page.getByLabel("Password").fill("river kettle lantern");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL((url) => url.pathname === "/");
  for (const [path, shown] of [
    ["/account/", "Your account"],
    ["/admin/", "Only administrators can open the admin console."],
  ] as const) {
    await page.goto(path);
    await expect(page.getByText(shown, { exact: true })).toBeVisible();
    expect(await fitsTheScreen(page), path).toBe(true);
    expect(await seriousViolations(page), path).toEqual([]);
  }
});
