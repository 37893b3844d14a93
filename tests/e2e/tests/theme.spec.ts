import { expect, test } from "@playwright/test";

import { snapshot } from "./helpers";

test("the first visit follows the system theme", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto("/");

  await expect(page.locator("html")).toHaveClass(/dark/);
});

test("the theme toggle switches themes and the choice survives a reload", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await page.goto("/");
  const html = page.locator("html");
  await expect(html).not.toHaveClass(/dark/);
  const backgroundLight = await page.evaluate(
    () => getComputedStyle(document.body).backgroundColor,
  );

  await page.getByRole("button", { name: "Switch to dark theme" }).click();

  await expect(html).toHaveClass(/dark/);
  const backgroundDark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(backgroundDark).not.toBe(backgroundLight);
  await page.reload();
  await expect(html).toHaveClass(/dark/);
  await page.waitForTimeout(900);
  await snapshot(page, "landing-dark");

  await page.getByRole("button", { name: "Switch to light theme" }).click();
  await expect(html).not.toHaveClass(/dark/);
});

test("a stored dark theme is applied before the page paints", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "light" });
  await page.goto("/");
  await page.evaluate(() => localStorage.setItem("theme", "dark"));

  // Read the class from the first script that runs after the theme script, before hydration.
  await page.addInitScript(() => {
    document.addEventListener("DOMContentLoaded", () => {
      (window as unknown as { firstClass: string }).firstClass = document.documentElement.className;
    });
  });
  await page.reload();

  const firstClass = await page.evaluate(
    () => (window as unknown as { firstClass: string }).firstClass,
  );
  expect(firstClass).toContain("dark");
});
