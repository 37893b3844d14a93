import { expect, test, type Page } from "@playwright/test";

import { cspViolations, expectHearing, inbound, joinRoom, snapshot } from "./helpers";

/** Waits until no more audio arrives over two seconds. */
async function expectSilence(page: Page) {
  await expect
    .poll(
      async () => {
        const first = (await inbound(page)).bytes;
        await page.waitForTimeout(2_000);
        return (await inbound(page)).bytes - first;
      },
      { timeout: 20_000 },
    )
    .toBeLessThan(300);
}

test("three people meet in a room: they hear each other, mute and mute-all silence them, removal works", async ({
  browser,
}) => {
  test.setTimeout(150_000);
  const host = await (await browser.newContext()).newPage();
  const guest = await (await browser.newContext()).newPage();
  const listener = await (await browser.newContext()).newPage();
  const violations = [host, guest, listener].map(cspViolations);

  await host.goto("/rooms/");
  await host.getByRole("button", { name: "Start a room" }).click();
  await host.getByLabel("Title").fill("Evening calm");
  await host.getByRole("button", { name: "Create and join" }).click();
  await expect(host).toHaveURL(/\/rooms\/live\/\?id=/);
  await joinRoom(host);

  await guest.goto(host.url());
  await joinRoom(guest);
  await listener.goto(host.url());
  await joinRoom(listener);
  for (const page of [host, guest, listener]) {
    await expect(page.getByTestId("participant")).toHaveCount(3);
    // Presence: everyone's audio is connected, as every page is told.
    await expect(page.locator('[data-testid="participant"][data-connected="true"]')).toHaveCount(
      3,
      { timeout: 20_000 },
    );
  }
  const hostHandle = await guest
    .getByTestId("participant")
    .filter({ hasText: "host" })
    .getAttribute("data-handle");

  // Everyone arrives muted. The host unmutes (the fake microphone plays a tone): both
  // others hear it, and the audio server names the host as the one speaking.
  await expectSilence(guest);
  await host.getByRole("button", { name: "Unmute" }).click();
  await expectHearing(guest);
  await expectHearing(listener);
  await expect(guest.locator(`[data-handle="${hostHandle}"]`)).toHaveAttribute(
    "data-speaking",
    "true",
  );
  await snapshot(host, "room-host");

  // The listener turns the host down with the per-speaker volume: the player follows.
  await listener.getByLabel(/^Volume for /).fill("0.3");
  await expect
    .poll(() => listener.evaluate((h) => window.__solaceRoom?.playback()[h ?? ""], hostHandle))
    .toEqual({ volume: 0.3, playing: true });

  // The host mutes: the server stops forwarding, the guest hears nothing.
  await host.getByRole("button", { name: "Mute", exact: true }).click();
  await expectSilence(guest);
  await expect(guest.locator(`[data-handle="${hostHandle}"]`)).toHaveAttribute(
    "data-speaking",
    "false",
  );

  // The guest raises a hand, the host invites them, they speak and the host hears them.
  await guest.getByRole("button", { name: "Raise hand" }).click();
  const guestHandle = await guest
    .getByTestId("participant")
    .filter({ hasText: "(you)" })
    .getAttribute("data-handle");
  const guestTile = host.locator(`[data-handle="${guestHandle}"]`);
  await guestTile.getByRole("button", { name: /Options for/ }).click();
  await host.getByRole("menuitem", { name: "Invite to speak" }).click();
  await expect(guest.getByRole("button", { name: "Unmute" })).toBeVisible();
  await guest.getByRole("button", { name: "Unmute" }).click();
  await expectHearing(host);

  // Mute all from the host's menu silences the guest.
  await host.getByRole("button", { name: "Mute all" }).click();
  await expectSilence(host);
  await expect(guest.getByRole("button", { name: "Unmute" })).toBeVisible();

  // Removal: the guest is told, and is gone from the host's view.
  host.once("dialog", (dialog) => void dialog.accept("Testing removal"));
  await guestTile.getByRole("button", { name: /Options for/ }).click();
  await host.getByRole("menuitem", { name: "Remove from room" }).click();
  await expect(guest.getByTestId("room-problem")).toHaveText(
    "A moderator removed you from this room.",
  );
  await expect(host.getByTestId("participant")).toHaveCount(2);
  await expect(listener.getByTestId("participant")).toHaveCount(2);
  expect(violations.flat()).toEqual([]);
});
