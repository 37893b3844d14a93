import { readFileSync } from "node:fs";
import path from "node:path";

import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";

import { firstRunBaseURL, firstRunDataDir, llmPort } from "../playwright.config";
import { snapshot } from "./helpers";

/*
 * First run, as a new operator meets it: the link the server printed makes them its
 * administrator, they choose a model on the setup page, it downloads (from the fake hub)
 * and the chat answers with it, all without a restart.
 */
test("the setup link makes the first administrator, who installs a model the chat then answers with", async ({
  page,
}) => {
  const token = readFileSync(path.join(firstRunDataDir, "setup-token"), "utf8").trim();
  const email = `first-${Date.now()}@example.com`;

  await page.goto(`${firstRunBaseURL}/chat/`);
  await expect(page.getByTestId("no-model")).toContainText("No language model is set up");

  await page.goto(`${firstRunBaseURL}/setup/#token=${token}`);
  await page.waitForURL((url) => /^\/login\/?$/.test(url.pathname));
  await page.getByRole("link", { name: /create an account/i }).click();
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("river kettle lantern");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL((url) => /^\/setup\/?$/.test(url.pathname));
  // The token left the address bar when the page kept it.
  expect(page.url()).not.toContain(token);
  await page.getByRole("button", { name: "Become the administrator" }).click();

  await expect(page.getByRole("heading", { name: "Language model" })).toBeVisible();
  await expect(page.getByTestId("current-model")).toContainText("No model yet");
  await snapshot(page, "setup-choose-model");
  // Accessible (no serious or critical WCAG 2.2 AA violation) and no sideways scrolling
  // on a small phone.
  const axe = await new AxeBuilder({ page })
    .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"])
    .analyze();
  expect(axe.violations.filter((v) => v.impact === "serious" || v.impact === "critical")).toEqual(
    [],
  );
  await page.setViewportSize({ width: 320, height: 740 });
  expect(
    await page.evaluate(
      () => document.documentElement.scrollWidth <= document.documentElement.clientWidth,
    ),
  ).toBe(true);
  await snapshot(page, "setup-choose-model-phone");
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByRole("button", { name: "Download Llama 3.2 1B Instruct (Q4_K_M)" }).click();
  await expect(page.getByTestId("model-download")).toContainText("is installed and answering", {
    timeout: 30_000,
  });
  await expect(page.getByTestId("current-model")).toContainText("local:");
  await snapshot(page, "setup-model-ready");

  await page.getByRole("link", { name: "Start a conversation" }).click();
  await page.waitForURL((url) => /^\/chat\/?$/.test(url.pathname));
  await expect(page.getByTestId("no-model")).toHaveCount(0);
  const input = page.getByLabel("Your message");
  await input.fill("I had a long day at work");
  await input.press("Enter");
  // The tiny model's words are nonsense (random weights), but they are its own: a reply
  // streamed by the model now running in the server.
  await expect(page.getByTestId("ai-message").last()).not.toBeEmpty({ timeout: 30_000 });
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible({ timeout: 30_000 });
  // No error banner (the route announcer outside the page is an alert too).
  await expect(page.locator("main").getByRole("alert")).toHaveCount(0);

  // A model server someone already runs replaces it, from the same page: a wrong
  // address is refused with a reason, the right one answers the next message.
  await page.goto(`${firstRunBaseURL}/setup/`);
  await page.getByLabel("Server address").fill("http://127.0.0.1:9/v1");
  await page.getByLabel("Model", { exact: true }).fill("fake-mellogpt");
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.locator("main").getByRole("alert")).toContainText(
    "The model server did not answer",
  );
  await page.getByLabel("Server address").fill(`http://127.0.0.1:${llmPort}/v1`);
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page.getByTestId("current-model")).toContainText("openai:fake-mellogpt");
  await page.getByRole("link", { name: "Start a conversation" }).click();
  const second = page.getByLabel("Your message");
  await second.fill("Thanks for listening");
  await second.press("Enter");
  await expect(page.getByTestId("ai-message").last()).toContainText(
    'I hear that you said: "Thanks for listening"',
    { timeout: 30_000 },
  );

  // The link is spent: nobody else can use it.
  expect(() => readFileSync(path.join(firstRunDataDir, "setup-token"))).toThrow();
});
