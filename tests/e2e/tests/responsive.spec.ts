import { expect, test } from "@playwright/test";

import { snapshot } from "./helpers";

test("on a phone the two panels stack, the AI therapist first", async ({ page }) => {
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.goto("/");
  await page.waitForTimeout(300);

  const top = await page.getByTestId("panel-therapist").boundingBox();
  const bottom = await page.getByTestId("panel-spaces").boundingBox();

  expect(top && bottom).toBeTruthy();
  expect(bottom!.y).toBeGreaterThanOrEqual(top!.y + top!.height - 1);
  expect(Math.abs(bottom!.x - top!.x)).toBeLessThan(2);
  await expect(page.getByRole("link", { name: "Join a Social Space" })).toBeVisible();
  await page.waitForTimeout(900);
  await snapshot(page, "landing-mobile");
});
