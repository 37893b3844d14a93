import { expect, test, type Page } from "@playwright/test";

import { snapshot } from "./helpers";

// The app talks to the fake OpenAI-compatible server started by playwright.config.ts,
// which streams back a reply that quotes the message it received.
const echo = (message: string) =>
  `Thank you for telling me. I hear that you said: "${message}". How are you feeling about it right now?`;

async function say(page: Page, text: string) {
  const input = page.getByLabel("Your message");
  await input.fill(text);
  await input.press("Enter");
}

test("a guest chats, watches the reply stream in, and finds it again after a reload", async ({
  page,
}) => {
  const message = "I have been feeling anxious about work";
  await page.goto("/chat/");
  await expect(page.getByTestId("ai-disclosure")).toHaveText("AI · not a licensed clinician");
  await expect(page.getByTestId("not-a-substitute")).toContainText("not a licensed clinician");

  await say(page, message);

  // While the reply streams, the stop button replaces send.
  await expect(page.getByRole("button", { name: "Stop the reply" })).toBeVisible();
  const reply = page.getByTestId("ai-message").last();
  await expect(reply).toContainText(echo(message));
  await expect(page.getByRole("button", { name: "Send" })).toBeVisible();
  await expect(page).toHaveURL(/\/chat\/\?session=/);
  await snapshot(page, "chat-reply");

  await page.reload();

  await expect(page.getByTestId("user-message")).toHaveText([`You${message}`]);
  await expect(page.getByTestId("ai-message")).toContainText([echo(message)]);
  await expect(page.getByTestId("session-list")).toContainText(message);
});

test("imminent danger brings crisis lines first, the safety plan and grounding", async ({
  page,
}) => {
  await page.goto("/chat/");

  await say(page, "I'm going to kill myself tonight, I already wrote my goodbye letter");

  const card = page.getByTestId("crisis-card");
  await expect(card).toHaveAttribute("data-response", "crisis");
  await expect(card.getByRole("link", { name: "988" })).toBeVisible();
  await expect(page.getByTestId("ai-message").last()).toContainText("Your life matters");
  await snapshot(page, "chat-crisis");

  await card.getByRole("link", { name: "Make my safety plan" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "My safety plan" })).toBeVisible();
  await page.getByLabel("My reasons for living").fill("My sister\nThe sea in summer");
  await page.getByRole("button", { name: "Save my plan" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  await page.reload();
  await expect(page.getByLabel("My reasons for living")).toHaveValue(
    "My sister\nThe sea in summer",
  );

  await page.getByRole("link", { name: "Try a grounding exercise" }).click();
  await expect(page.getByTestId("five-senses-step")).toContainText("5 things you can see");
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByTestId("five-senses-step")).toContainText("4 things you can feel");
  await page.getByRole("button", { name: "Start" }).click();
  await expect(page.getByTestId("breathing-phase")).toContainText("Breathe in");
});

test("elevated risk gets a supportive reply and an 'are you safe right now?' check-in", async ({
  page,
}) => {
  const message = "Lately I wish I could just not wake up";
  await page.goto("/chat/");

  await say(page, message);

  // The model answers (guided to ask about safety); the check-in and the lines stay in view.
  await expect(page.getByTestId("ai-message").last()).toContainText(echo(message));
  const card = page.getByTestId("crisis-card");
  await expect(card).toHaveAttribute("data-response", "check_in");
  await expect(card.getByRole("heading", { name: "Are you safe right now?" })).toBeVisible();
  await expect(card.getByRole("link", { name: "988" })).toBeVisible();
  await card.getByRole("button", { name: "I’m not safe" }).click();
  await expect(card.getByTestId("not-safe")).toContainText("Please reach out to someone right now");
  await expect(card.getByRole("link", { name: "Make my safety plan" })).toBeVisible();
});

test("worry about someone else brings how to help them, with the lines", async ({ page }) => {
  await page.goto("/chat/");

  await say(
    page,
    "My brother keeps telling me he wants to kill himself and I don't know what to do",
  );

  const card = page.getByTestId("crisis-card");
  await expect(card).toHaveAttribute("data-response", "help_them");
  await expect(
    card.getByRole("heading", { name: "Helping someone who may be at risk" }),
  ).toBeVisible();
  await expect(page.getByTestId("ai-message").last()).toContainText("Ask them directly");
  await expect(card.getByRole("link", { name: "988" })).toBeVisible();
});

test("an idiom or a story from recovery is not an alarm", async ({ page }) => {
  await page.goto("/chat/");

  const message = "This commute is killing me, but honestly the week was good";
  await say(page, message);

  await expect(page.getByTestId("ai-message").last()).toContainText(echo(message));
  await expect(page.getByTestId("crisis-card")).toHaveCount(0);
});

test("stopping a reply keeps what arrived, marked as cut short", async ({ page }) => {
  const long = Array.from({ length: 60 }, (_, i) => `word${i}`).join(" ");
  await page.goto("/chat/");

  await say(page, long);
  await expect(page.getByTestId("ai-message").last()).toContainText("Thank you");
  await page.getByRole("button", { name: "Stop the reply" }).click();

  const reply = page.getByTestId("ai-message").last();
  await expect(reply).toHaveAttribute("data-status", "incomplete");
  await expect(reply).toContainText("This reply was cut short.");
});

test("conversations can be started, renamed and deleted from the sidebar", async ({ page }) => {
  await page.goto("/chat/");
  await say(page, "First conversation");
  await expect(page.getByTestId("ai-message")).toHaveCount(1);
  const list = page.getByTestId("session-list");

  await page.getByRole("button", { name: "Rename “First conversation”" }).click();
  await page.getByLabel("Conversation title").fill("Work worries");
  await page.getByRole("button", { name: "Save title" }).click();
  await expect(list).toContainText("Work worries");

  await page.getByRole("button", { name: "New conversation" }).click();
  await expect(page.getByText("How are you feeling today?")).toBeVisible();
  await say(page, "Second one");
  await expect(page.getByTestId("ai-message")).toHaveCount(1);
  await expect(list.getByRole("listitem")).toHaveCount(2);

  await page.getByRole("button", { name: "Delete “Work worries”" }).click();
  await list.getByRole("button", { name: "Delete", exact: true }).click();
  await expect(list.getByRole("listitem")).toHaveCount(1);
  await expect(list).not.toContainText("Work worries");
});

test("after a failed reply the message stays in its conversation, and the next one continues it", async ({
  page,
}) => {
  await page.goto("/chat/");
  await expect(page.getByTestId("ai-disclosure")).toBeVisible();
  // The fake model fails this one (the server answers 502 after storing the message).
  const first = "The night shift again, and nobody to talk to [[fake:fail:502]]";
  await say(page, first);
  await expect(page.getByTestId("chat-error")).toBeVisible();
  await expect(page.getByTestId("user-message")).toHaveText([`You${first}`]);
  await expect(page).toHaveURL(/\/chat\/\?session=/);
  const conversation = new URL(page.url()).searchParams.get("session");

  const second = "Are you there now?";
  await say(page, second);
  await expect(page.getByTestId("ai-message").last()).toContainText(echo(second));
  expect(new URL(page.url()).searchParams.get("session")).toBe(conversation);
  await expect(page.getByTestId("user-message")).toHaveText([`You${first}`, `You${second}`]);
});

test("retrying a failed reply answers the same message, stored once", async ({ page }) => {
  await page.goto("/chat/");
  await expect(page.getByTestId("ai-disclosure")).toBeVisible();
  // The fake model cuts its reply to this message off the first time only (unique, so a
  // rerun of the test is cut off too).
  const text = `Could you suggest a book for the weekend? ${Date.now()} [[fake:cut-once]]`;
  await say(page, text);
  await expect(page.getByTestId("chat-error")).toBeVisible();
  await page.getByRole("button", { name: "Retry" }).click();
  await expect(page.getByTestId("ai-message").last()).toContainText(echo(text));
  await expect(page.getByTestId("chat-error")).toHaveCount(0);
  await expect(page.getByTestId("user-message")).toHaveText([`You${text}`]);
  // What the server kept, read again from scratch: the message once, the reply cut short
  // (marked), then the whole one.
  await page.reload();
  await expect(page.getByTestId("ai-message").last()).toContainText(echo(text));
  await expect(page.getByTestId("user-message")).toHaveText([`You${text}`]);
  await expect(page.getByTestId("ai-message")).toHaveCount(2);
});
