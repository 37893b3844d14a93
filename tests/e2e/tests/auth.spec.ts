import { expect, test, type Page } from "@playwright/test";

import { snapshot } from "./helpers";

const PASSWORD = "river kettle lantern";

function uniqueEmail(): string {
  return `e2e-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.org`;
}

async function signUp(page: Page, email: string) {
  await page.goto("/signup/");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await atHome(page);
}

/** Waits until the app has navigated to the landing page. */
async function atHome(page: Page) {
  await page.waitForURL((url) => url.pathname === "/");
}

test("sign up, log out, log in, and reach a protected page", async ({ page }) => {
  const email = uniqueEmail();

  await signUp(page, email);
  const navbar = page.getByRole("navigation", { name: "Main" });
  await expect(navbar.getByRole("button", { name: "Log out" })).toBeVisible();

  await navbar.getByRole("button", { name: "Log out" }).click();
  await expect(navbar.getByRole("link", { name: "Log in" })).toBeVisible();

  await page.goto("/account/");
  await expect(page).toHaveURL(/\/login\/\?next=%2Faccount/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();

  await expect(page).toHaveURL(/\/account\/$/);
  await expect(page.getByRole("heading", { name: "Your account" })).toBeVisible();
  await expect(page.getByTestId("account-email")).toHaveText(email);
  await snapshot(page, "account");
});

test("forms explain mistakes next to the field", async ({ page }) => {
  await page.goto("/signup/");

  await page.getByLabel("Email").fill("not-an-email");
  await page.getByLabel("Password").fill("short");
  await page.getByRole("button", { name: "Create account" }).click();

  await expect(page.getByText("Please enter a valid email address.")).toBeVisible();
  await expect(page.getByText("Use at least 10 characters for your password.")).toBeVisible();
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await snapshot(page, "signup-errors");
});

test("a wrong password gets one calm, generic message", async ({ page }) => {
  const email = uniqueEmail();
  await signUp(page, email);
  await page
    .getByRole("navigation", { name: "Main" })
    .getByRole("button", { name: "Log out" })
    .click();

  await page.goto("/login/");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not my password");
  await page.getByRole("button", { name: "Log in" }).click();

  await expect(
    page.getByRole("alert").filter({ hasText: "The email or password is wrong." }),
  ).toBeVisible();
});

test("a guest's conversations survive signing up", async ({ page }) => {
  await page.goto("/login/");
  await page.getByRole("button", { name: "Continue as a guest" }).click();
  await atHome(page);
  const pseudonym = await page.evaluate(async () => {
    const me = await (await fetch("/api/auth/me")).json();
    await fetch("/api/chat/sessions", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf_token },
      body: JSON.stringify({ title: "Before I signed up" }),
    });
    return me.user.pseudonym as string;
  });

  await page
    .getByRole("navigation", { name: "Main" })
    .getByRole("link", { name: "Sign up" })
    .click();
  await expect(
    page.getByText(`Your conversations as ${pseudonym} will come with you.`),
  ).toBeVisible();
  await page.getByLabel("Email").fill(uniqueEmail());
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await atHome(page);
  await page.goto("/account/");

  await expect(page.getByTestId("account-pseudonym")).toHaveText(pseudonym);
  await expect(page.getByTestId("conversation-count")).toHaveText(
    "1 conversation with the AI supporter.",
  );
});

test("deleting the account signs out and the email can no longer log in", async ({ page }) => {
  const email = uniqueEmail();
  await signUp(page, email);
  await page.goto("/account/");

  await page.getByLabel("Confirm with your password").fill(PASSWORD);
  await page.getByRole("button", { name: "Delete my account" }).click();

  await atHome(page);
  await page.goto("/login/");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(
    page.getByRole("alert").filter({ hasText: "The email or password is wrong." }),
  ).toBeVisible();
});
