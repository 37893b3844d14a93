import { expect, test, type Page } from "@playwright/test";

import { collectorPort } from "../playwright.config";

// What reaches the fake Sentry / PostHog (fake-collector.mjs), started beside the server.
type Received = {
  sentry: { path: string; query: string; body: string }[];
  posthog: {
    api_key: string;
    batch: { event: string; distinct_id: string; properties: Record<string, unknown> }[];
  }[];
  plausible: unknown[];
};

async function received(page: Page): Promise<Received> {
  const response = await page.request.get(`http://127.0.0.1:${collectorPort}/received`);
  return (await response.json()) as Received;
}

async function say(page: Page, text: string) {
  const input = page.getByLabel("Your message");
  await input.fill(text);
  await input.press("Enter");
}

test("a failed reply and a browser error reach Sentry with the request id and nothing private", async ({
  page,
}) => {
  const secret = "my brother and the pills in the drawer 6620";
  const settings = page.waitForResponse((r) => r.url().endsWith("/api/client-config"));
  await page.goto("/chat/");
  // Error reporting starts once the page has its settings; the chat is ready once it
  // shows the disclosure.
  await settings;
  await expect(page.getByTestId("ai-disclosure")).toHaveText("AI · not a licensed clinician");
  await page.waitForLoadState("networkidle");

  // The fake model fails this one: the server answers 502 with its request id.
  const failed = page.waitForResponse((r) => r.url().endsWith("/api/ai/message"));
  await say(page, `${secret} [[fake:fail:502]]`);
  const response = await failed;
  expect(response.status()).toBe(502);
  const requestId = (await response.allHeaders())["x-request-id"];
  expect(requestId).toBeTruthy();
  await expect(page.getByTestId("chat-error")).toBeVisible();

  // An uncaught error in the page.
  await page.evaluate(() => {
    setTimeout(() => {
      throw new Error("forced browser error for ana.private@example.org");
    }, 0);
  });

  await expect
    .poll(
      async () => {
        const all = (await received(page)).sentry.map((e) => e.body).join("\n");
        return all.includes(requestId) && all.includes("forced browser error");
      },
      { timeout: 15_000 },
    )
    .toBe(true);

  const envelopes = (await received(page)).sentry;
  const all = envelopes.map((e) => e.body).join("\n");
  const failure = envelopes.find((e) => e.body.includes(requestId))!.body;
  expect(failure).toContain("API request failed");
  expect(failure).toContain('"status":"502"');
  expect(failure).toContain('"route":"/api/ai/message"');
  expect(failure).toMatch(/"release":"solace@\d+\.\d+\.\d+"/);
  expect(envelopes.every((e) => e.query.includes("sentry_key=e2epublickey"))).toBe(true);
  for (const forbidden of [
    secret,
    "pills in the drawer",
    "fake:fail",
    "ana.private@example.org",
    "solace_session",
    "ip_address",
  ]) {
    expect(all, forbidden).not.toContain(forbidden);
  }
  expect(all).toContain("forced browser error for [email]");
});

test("the funnel reaches first-party analytics and PostHog by visit, without content", async ({
  page,
}) => {
  const message = "I keep waking up at four and my mind races";
  await page.goto("/");
  await page.getByRole("link", { name: "Talk to the AI Therapist" }).click();
  await expect(page).toHaveURL(/\/chat\/$/);
  await say(page, message);
  await expect(page.getByTestId("ai-message").last()).toContainText(message);
  const visit = await page.evaluate(() => sessionStorage.getItem("solace.visit"));
  expect(visit).toMatch(/^[A-Za-z0-9-]{8,64}$/);

  const ofVisit = async () =>
    (await received(page)).posthog.flatMap((b) => b.batch).filter((e) => e.distinct_id === visit);
  await expect
    .poll(async () => (await ofVisit()).map((e) => e.event).sort(), { timeout: 15_000 })
    .toEqual(["$pageview", "$pageview", "chat.reply_seen", "chat.started", "cta.click"]);

  const events = await ofVisit();
  expect(events.filter((e) => e.event === "$pageview").map((e) => e.properties.$pathname)).toEqual(
    expect.arrayContaining(["/", "/chat/"]),
  );
  expect(events.find((e) => e.event === "cta.click")?.properties.cta).toBe("landing.therapist");
  expect(events.every((e) => e.properties.$process_person_profile === false)).toBe(true);
  const everything = JSON.stringify(await received(page));
  expect(everything).not.toContain(message);
  expect(everything).not.toContain("four and my mind");
});

test("with Global Privacy Control, or statistics turned off, nothing is sent", async ({
  browser,
}) => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true });
  });
  const page = await context.newPage();
  const sent: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/events")) sent.push(r.url());
  });
  await page.goto("/");
  await page.getByRole("link", { name: "Talk to the AI Therapist" }).click();
  await say(page, "Just checking in tonight");
  await expect(page.getByTestId("ai-message").last()).toContainText("Just checking in tonight");
  await page.goto("/privacy/");
  await expect(page.getByTestId("statistics-browser-off")).toBeVisible();
  expect(sent).toEqual([]);
  await context.close();

  // Without GPC, the person's own switch on the privacy page.
  const own = await browser.newContext();
  const second = await own.newPage();
  const events: string[] = [];
  second.on("request", (r) => {
    if (r.url().includes("/api/events")) events.push(r.url());
  });
  await second.goto("/chat/");
  await say(second, "Hello again");
  await expect(second.getByTestId("ai-message").last()).toContainText("Hello again");
  // Statistics are on until turned off: this visit was counted.
  await expect.poll(() => events.length).toBeGreaterThan(0);
  await second.goto("/privacy/");
  const toggle = second.getByLabel("Share anonymous usage statistics from this device");
  await expect(toggle).toBeChecked();
  await toggle.uncheck();
  events.length = 0;
  for (const path of ["/", "/chat/"]) {
    await second.goto(path);
    // The page's view has been decided (sent or not) once the marker names this page; a
    // request to the server after it arrives after anything the page sent before it.
    await second.waitForFunction(
      (p) => document.documentElement.dataset.pageview?.replace(/\/$/, "") === p.replace(/\/$/, ""),
      path,
    );
    await second.evaluate(() => fetch("/healthz").then((r) => r.status));
  }
  expect(events).toEqual([]);
  await own.close();
});
