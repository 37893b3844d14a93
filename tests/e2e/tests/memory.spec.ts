import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Locator, type Page } from "@playwright/test";

import { snapshot } from "./helpers";

// "What Solace remembers": the server embeds each finished turn in a background job (the
// safety layer's in-process encoder), and the person sees, forgets and pauses it here.

async function say(page: Page, text: string) {
  const input = page.getByLabel("Your message");
  await input.fill(text);
  await input.press("Enter");
}

async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"])
    .analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

/** The remembered item that says `text`, said by `who`. */
function remembered(page: Page, text: string, who: "You" | "Solace"): Locator {
  return page
    .getByTestId("memory-item")
    .filter({ hasText: text })
    .filter({ has: page.getByText(who, { exact: true }) });
}

/** Reloads until the turn is remembered: embedding runs after the reply, off its path. */
async function waitUntilRemembered(page: Page, item: Locator) {
  await expect(async () => {
    await page.reload();
    await expect(item).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 20_000, intervals: [500, 1_000, 2_000] });
}

test("a guest sees what Solace remembers, forgets one piece, pauses, then forgets everything", async ({
  page,
}) => {
  test.setTimeout(90_000);
  await page.emulateMedia({ reducedMotion: "reduce" });
  const message = "My sister's garden in June always calms me down";
  await page.goto("/chat/");
  await expect(page.getByTestId("ai-disclosure")).toBeVisible();
  await say(page, message);
  await expect(page.getByTestId("ai-message").last()).toContainText(message);

  // The chat's sidebar leads here.
  await page.getByRole("link", { name: "What Solace remembers" }).click();
  await expect(
    page.getByRole("heading", { level: 1, name: "What Solace remembers" }),
  ).toBeVisible();
  const mine = remembered(page, message, "You");
  const reply = remembered(page, message, "Solace");
  await waitUntilRemembered(page, mine);
  await expect(reply).toBeVisible();
  await expect(mine.getByRole("link", { name: /From the conversation/ })).toBeVisible();
  await expect(page.getByTestId("memory-status")).toHaveText(/Memory is on/);
  await expect(page.getByRole("switch", { name: "Pause memory" })).toHaveAttribute(
    "aria-checked",
    "false",
  );
  await snapshot(page, "memory");

  // Accessible in both themes, and it fits a small phone.
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme, reducedMotion: "reduce" });
    expect(await seriousViolations(page), scheme).toEqual([]);
  }
  await page.setViewportSize({ width: 320, height: 740 });
  expect(
    await page.evaluate(
      () => document.documentElement.scrollWidth <= document.documentElement.clientWidth,
    ),
  ).toBe(true);
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: "light", reducedMotion: "reduce" });

  // Forget one piece: it is gone, and stays gone.
  await mine.getByRole("button", { name: /^Forget this: you said/ }).click();
  await expect(mine).toHaveCount(0);
  await expect(reply).toBeVisible();
  await page.reload();
  await expect(reply).toBeVisible();
  await expect(mine).toHaveCount(0);

  // Pause: the choice is kept.
  const pause = page.getByRole("switch", { name: "Pause memory" });
  const stored = page.waitForResponse(
    (r) => r.url().endsWith("/api/memory/choices") && r.request().method() === "PUT",
  );
  await pause.click();
  expect((await stored).status()).toBe(200);
  await expect(pause).toHaveAttribute("aria-checked", "true");
  await page.reload();
  await expect(page.getByRole("switch", { name: "Pause memory" })).toHaveAttribute(
    "aria-checked",
    "true",
  );
  await expect(page.getByTestId("memory-status")).toHaveText(/Memory is paused/);
  await expect(page.getByRole("switch", { name: "Also remember hard moments" })).toHaveAttribute(
    "aria-checked",
    "false",
  );

  // Forget everything, after saying yes; cancelling first changes nothing.
  await page.getByRole("button", { name: "Forget everything" }).click();
  const dialog = page.getByRole("dialog", { name: "Forget everything Solace remembers?" });
  await expect(dialog).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(reply).toBeVisible();

  await page.getByRole("button", { name: "Forget everything" }).click();
  await dialog.getByRole("button", { name: "Forget everything" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId("memory-empty")).toContainText("Nothing is remembered yet.");
  await expect(page.getByTestId("memory-item")).toHaveCount(0);
  await page.reload();
  await expect(page.getByTestId("memory-empty")).toContainText("Nothing is remembered yet.");

  // The conversation itself stays.
  await page.goto("/chat/");
  await expect(page.getByTestId("session-list")).toContainText(message);
});

test("the account page links to what Solace remembers", async ({ page }) => {
  await page.goto("/signup/");
  await page.getByLabel("Email").fill(`memory.${Date.now()}@example.org`);
  await page.getByLabel("Password").fill("river kettle lantern");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL((url) => url.pathname === "/");

  await page.goto("/account/");
  await page.getByRole("link", { name: "What Solace remembers" }).click();

  await expect(page).toHaveURL(/\/memory\/$/);
  await expect(page.getByTestId("memory-empty")).toContainText("Nothing is remembered yet.");
  await expect(page.getByRole("switch", { name: "Pause memory" })).toBeVisible();
});
