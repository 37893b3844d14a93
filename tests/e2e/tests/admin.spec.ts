import { execFileSync } from "node:child_process";

import { expect, request, test, type Page } from "@playwright/test";

import { e2eDatabaseUrl, e2eDataDir } from "../playwright.config";

/** Someone using the API directly (another browser, in effect), with their CSRF token. */
async function person(baseURL: string, email?: string) {
  const context = await request.newContext({ baseURL });
  const response = email
    ? await context.post("/api/auth/signup", {
        data: { email, password: "river kettle lantern" },
      })
    : await context.post("/api/auth/guest", { data: {} });
  expect(response.status()).toBe(201);
  const body = await response.json();
  const csrf = body.csrf_token as string;
  const post = (path: string, data: unknown = {}) =>
    context.post(path, { data, headers: { "x-csrf-token": csrf } });
  return { context, user: body.user, post };
}

/** Makes an account an administrator the way an operator does: `solace admin grant`. */
function grantAdmin(email: string) {
  execFileSync(process.env.SOLACE_BIN!, ["admin", "grant", email], {
    env: {
      PATH: process.env.PATH ?? "",
      DATABASE_URL: e2eDatabaseUrl,
      DATA_DIR: e2eDataDir,
      RUST_LOG: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function signInAsNewAdmin(page: Page, email: string) {
  await page.goto("/signup/");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("river kettle lantern");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL((url) => url.pathname === "/");
  grantAdmin(email);
  await page.goto("/admin/");
  await expect(page.getByRole("heading", { level: 1, name: "Admin console" })).toBeVisible();
}

async function tab(page: Page, name: string) {
  await page.getByRole("tab", { name }).click();
}

test("an administrator acts on a report, bans and ends a room, and every action is audited", async ({
  page,
  baseURL,
}) => {
  const stamp = Date.now();
  // A room with a host and someone reported for what they did there.
  const host = await person(baseURL!);
  const rude = await person(baseURL!);
  const room = await (await host.post("/api/rooms", { title: `Evening ${stamp}` })).json();
  await host.post(`/api/rooms/${room.id}/join`);
  const joined = await (await rude.post(`/api/rooms/${room.id}/join`)).json();
  const reported = await host.post(
    `/api/rooms/${room.id}/participants/${joined.you.handle}/report`,
    { reason: `Shouting ${stamp}` },
  );
  expect(reported.status()).toBe(201);
  const troubled = await person(baseURL!, `troubled.${stamp}@example.org`);

  await signInAsNewAdmin(page, `admin.${stamp}@example.org`);

  // The overview: numbers, three charts with their tables, the funnels.
  await expect(page.getByTestId("admin-stats")).toContainText("Open reports");
  await expect(page.getByTestId("chart")).toHaveCount(3);
  await expect(page.locator("figure svg.recharts-surface").first()).toBeVisible();
  await expect(page.getByTestId("funnel-chat")).toContainText("first reply seen");

  // The report, in context, removed from the room.
  await tab(page, "Reports");
  const report = page.getByTestId("report").filter({ hasText: `Shouting ${stamp}` });
  await report.getByRole("button", { name: "Show context" }).click();
  await expect(report.getByRole("list", { name: /What happened in the room/ })).toContainText(
    "joined",
  );
  await report.getByLabel(/Note/).fill("Repeated shouting");
  await report.getByRole("button", { name: "Remove from the room" }).click();
  await expect(report).toHaveCount(0);
  const again = await rude.post(`/api/rooms/${room.id}/join`);
  expect(again.status()).toBe(403);

  // A person found by email and banned: signed out, refused at sign-in.
  await tab(page, "People");
  await page.getByRole("searchbox", { name: "Email or pseudonym" }).fill(`troubled.${stamp}`);
  await page.getByRole("button", { name: "Search" }).click();
  const row = page.getByTestId("person").filter({ hasText: `troubled.${stamp}@example.org` });
  await row.getByRole("button", { name: /^Ban / }).click();
  await row.getByLabel(/Why/).fill("Harassment");
  await row.getByRole("button", { name: "Confirm the ban" }).click();
  await expect(row).toContainText("Banned: Harassment");
  expect((await troubled.context.get("/api/auth/me")).status()).toBe(401);
  const login = await troubled.context.post("/api/auth/login", {
    data: { email: `troubled.${stamp}@example.org`, password: "river kettle lantern" },
  });
  expect(login.status()).toBe(403);
  expect((await login.json()).error).toBe("account_banned");

  // A live room ended.
  await tab(page, "Live rooms");
  await page.getByRole("button", { name: `End Evening ${stamp}` }).click();
  await expect(page.getByRole("button", { name: `End Evening ${stamp}` })).toHaveCount(0);

  // Everything above, in the audit log.
  await tab(page, "Audit log");
  const log = page.getByTestId("audit-log");
  for (const action of ["report.removed", "user.banned", "room.closed"]) {
    await expect(log).toContainText(action);
  }
  await expect(log).toContainText("Repeated shouting");

  // On a small phone the administrator's bar and console still fit the screen.
  await page.setViewportSize({ width: 320, height: 740 });
  await expect(page.getByRole("link", { name: "Admin" })).toBeVisible();
  expect(
    await page.evaluate(
      () => document.documentElement.scrollWidth <= document.documentElement.clientWidth,
    ),
  ).toBe(true);
  await page.setViewportSize({ width: 1280, height: 800 });

  // The tabs work from the keyboard.
  await page.getByRole("tab", { name: "Audit log" }).press("ArrowLeft");
  await expect(page.getByRole("tab", { name: "Dead jobs" })).toBeFocused();
  await expect(page.getByRole("tab", { name: "Dead jobs" })).toHaveAttribute(
    "aria-selected",
    "true",
  );

  for (const api of [host, rude, troubled]) await api.context.dispose();
});

test("the console is for administrators only", async ({ page, baseURL }) => {
  const someone = await person(baseURL!, `member.${Date.now()}@example.org`);
  await someone.context.dispose();
  await page.goto("/signup/");
  await page.getByLabel("Email").fill(`plain.${Date.now()}@example.org`);
  await page.getByLabel("Password").fill("river kettle lantern");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL((url) => url.pathname === "/");
  await expect(page.getByRole("link", { name: /your account/i })).toBeVisible();
  await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await page.goto("/admin/");
  await expect(page.getByText("Only administrators can open the admin console.")).toBeVisible();
  const overview = await page.request.get("/api/admin/overview");
  expect(overview.status()).toBe(403);
});
