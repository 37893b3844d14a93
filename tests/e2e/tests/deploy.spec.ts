import { expect, test, type Page } from "@playwright/test";

import { cspViolations, expectHearing, joinRoom } from "./helpers";

// The deployment rehearsal: Solace behind Caddy (HTTPS with its local CA) at a host name
// that is not localhost, with room audio forced through coturn. Servers are started by
// playwright.config.ts (project "deploy").
test.skip(!!process.env.E2E_BASE_URL, "the rehearsal starts its own servers");

const echo = (message: string) =>
  `Thank you for telling me. I hear that you said: "${message}". How are you feeling about it right now?`;

/** The type of this page's local ICE candidate in the room connection's selected pair. */
async function selectedCandidateType(page: Page): Promise<string | undefined> {
  return page.evaluate(async () => {
    const report = await window.__solaceRoom?.stats();
    if (!report) return undefined;
    const all = [...report.values()] as Array<Record<string, unknown>>;
    const transport = all.find((s) => s.type === "transport" && s.selectedCandidatePairId);
    const pair = all.find(
      (s) =>
        s.type === "candidate-pair" &&
        (transport
          ? s.id === transport.selectedCandidatePairId
          : s.nominated && s.state === "succeeded"),
    );
    const local = all.find((s) => s.id === pair?.localCandidateId);
    return local?.candidateType as string | undefined;
  });
}

test("over https behind Caddy: a secure page, HSTS, the microphone granted, a reply streams", async ({
  page,
}) => {
  const response = await page.goto("/chat/");
  expect(response?.url()).toMatch(/^https:\/\/solace\.internal:\d+\/chat\/$/);
  // Solace's own headers pass through the proxy; Caddy adds none that reveal it.
  expect(response?.headers()["strict-transport-security"]).toBe(
    "max-age=63072000; includeSubDomains",
  );
  expect(response?.headers()["server"]).toBeUndefined();
  expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
  // The browser gives the microphone only to secure pages: here it does.
  const tracks = await page.evaluate(async () => {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const count = stream.getAudioTracks().length;
    stream.getTracks().forEach((t) => t.stop());
    return count;
  });
  expect(tracks).toBe(1);

  const message = "Night shifts are wearing me down";
  const input = page.getByLabel("Your message");
  await input.fill(message);
  await input.press("Enter");
  await expect(page.getByTestId("ai-message").last()).toContainText(echo(message));
  // The session cookie is Secure: it exists only for https.
  const cookies = await page.context().cookies();
  expect(cookies.length).toBeGreaterThan(0);
  for (const cookie of cookies) expect(cookie.secure, cookie.name).toBe(true);
});

test("a room over https whose audio goes only through the TURN relay: the guest hears the host", async ({
  browser,
}) => {
  test.setTimeout(120_000);
  const context = { ignoreHTTPSErrors: true };
  const host = await (await browser.newContext(context)).newPage();
  const guest = await (await browser.newContext(context)).newPage();
  const violations = [host, guest].map(cspViolations);

  await host.goto("/rooms/");
  await host.getByRole("button", { name: "Start a room" }).click();
  await host.getByLabel("Title").fill("Across networks");
  await host.getByRole("button", { name: "Create and join" }).click();
  await expect(host).toHaveURL(/\/rooms\/live\/\?id=/);
  await joinRoom(host);
  await guest.goto(host.url());
  await joinRoom(guest);

  // Both connections run through coturn: the browser offered no address of its own.
  for (const page of [host, guest]) {
    await expect.poll(() => selectedCandidateType(page), { timeout: 20_000 }).toBe("relay");
  }
  await host.getByRole("button", { name: "Unmute" }).click();
  await expectHearing(guest);
  expect(violations.flat()).toEqual([]);
});
