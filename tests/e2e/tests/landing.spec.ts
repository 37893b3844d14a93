import { expect, test } from "@playwright/test";

import { snapshot } from "./helpers";

test("the landing page offers both doors: the AI therapist and social spaces", async ({ page }) => {
  await page.goto("/");

  const therapist = page.getByRole("link", { name: "Talk to the AI Therapist" });
  const spaces = page.getByRole("link", { name: "Join a Social Space" });
  await expect(therapist).toBeVisible();
  await expect(spaces).toBeVisible();
  await expect(therapist).toHaveAttribute("href", "/chat/");
  await expect(spaces).toHaveAttribute("href", "/rooms/");
  await expect(
    page.getByRole("heading", { level: 2, name: "Talk to the AI Therapist" }),
  ).toBeVisible();
  await expect(page.getByRole("heading", { level: 2, name: "Join a Social Space" })).toBeVisible();
  await page.waitForTimeout(900); // let the fade-in settle before the picture
  await snapshot(page, "landing-desktop");
});

test("the panels sit side by side on a wide screen", async ({ page }) => {
  // Layout, not animation: without motion the boxes are measured where they settle.
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.goto("/");
  await page.waitForTimeout(300);

  const left = await page.getByTestId("panel-therapist").boundingBox();
  const right = await page.getByTestId("panel-spaces").boundingBox();

  expect(left && right).toBeTruthy();
  expect(right!.x).toBeGreaterThan(left!.x + left!.width - 1);
  expect(Math.abs(right!.y - left!.y)).toBeLessThan(2);
});

test("following a call to action leads to its page", async ({ page }) => {
  await page.goto("/");

  await page.getByRole("link", { name: "Talk to the AI Therapist" }).click();

  await expect(page).toHaveURL(/\/chat\/$/);
  await expect(page.getByRole("heading", { level: 1, name: "Your AI therapist" })).toBeVisible();
});

test("the landing page loads without console errors or failed requests", async ({ page }) => {
  // A visitor without a session is told so by /api/auth/me with a 401; that one is expected.
  const expected = (url: string, status: number) => status === 401 && url.endsWith("/api/auth/me");
  const problems: string[] = [];
  page.on("console", (message) => {
    const url = message.location().url;
    if (
      message.type() === "error" &&
      !(url.endsWith("/api/auth/me") && message.text().includes("401"))
    ) {
      problems.push(message.text());
    }
  });
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("response", (response) => {
    if (response.status() >= 400 && !expected(response.url(), response.status())) {
      problems.push(`${response.status()} ${response.url()}`);
    }
  });

  await page.goto("/");
  await page.waitForLoadState("networkidle");

  expect(problems).toEqual([]);
});

test("with reduced motion the content is shown without waiting for animation", async ({ page }) => {
  await page.emulateMedia({ reducedMotion: "reduce" });
  await page.goto("/");

  const panel = page.getByTestId("panel-therapist");
  await expect(panel).toBeVisible();
  await expect(panel).toHaveCSS("transform", "none");
  await expect(page.getByRole("link", { name: "Join a Social Space" })).toBeVisible();
});
