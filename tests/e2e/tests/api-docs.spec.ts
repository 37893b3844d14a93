import { expect, test } from "@playwright/test";

// The API's documentation page: Swagger UI served by Solace itself (copied from npm at
// build time), reading the server's own OpenAPI document, under the app's
// Content-Security-Policy — nothing from a CDN, no script the policy has to allow inline.
test("the API documentation page shows the server's own contract", async ({ page }) => {
  const refused: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
  });
  const outside: string[] = [];
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (!["127.0.0.1", "localhost"].includes(url.hostname) && url.protocol !== "data:") {
      outside.push(request.url());
    }
  });

  await page.goto("/api/docs");

  await expect(page.getByRole("heading", { name: /Solace API/ })).toBeVisible();
  const guest = page.locator(".opblock").filter({ hasText: "/api/auth/guest" });
  await expect(guest).toBeVisible();
  await guest.locator(".opblock-summary").click();
  await expect(guest.getByText("A new guest, signed in")).toBeVisible();
  expect(refused).toEqual([]);
  expect(outside).toEqual([]);
});
