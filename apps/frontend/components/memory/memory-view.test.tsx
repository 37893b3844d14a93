import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { UserContext, type UserContextValue } from "@/components/auth/user-provider";
import type { MemoryItem, MemoryPage } from "@/lib/api";

import { MemoryView, snippet, speaker } from "./memory-view";

type Call = { method: string; url: string; body: unknown };

const item = (n: number, role = "user"): MemoryItem => ({
  id: `m${n}`,
  session_id: `s${n}`,
  session_title: `Conversation ${n}`,
  role,
  text: `Remembered text number ${n}`,
  said_at: new Date(Date.now() - n * 60_000).toISOString(),
});

function page(over: Partial<MemoryPage> = {}): MemoryPage {
  return {
    status: { available: true, model: "use-multilingual-v3" },
    choices: { paused: false, hard_moments: false },
    items: [item(1), item(2, "assistant")],
    total: 2,
    ...over,
  };
}

/**
 * A stand-in for the server: `pages` answers GET /api/memory by offset; every call is
 * recorded; DELETE and PUT answer as the real API does.
 */
function serve(pages: Record<number, MemoryPage>, calls: Call[]) {
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? "GET";
    calls.push({ method, url, body: init.body ? JSON.parse(String(init.body)) : undefined });
    const json = (status: number, body?: unknown) =>
      new Response(body === undefined ? null : JSON.stringify(body), { status });
    if (method === "GET") {
      const offset = Number(new URL(url, "http://x").searchParams.get("offset"));
      return json(200, pages[offset]);
    }
    if (method === "PUT") return json(200, calls.at(-1)?.body);
    return json(204);
  });
}

function user(status: UserContextValue["status"] = "signed-in"): UserContextValue {
  return {
    user: null,
    status,
    setSession: () => {},
    refresh: async () => {},
    logout: async () => {},
    forget: () => {},
    ended: false,
  };
}

function show(status: UserContextValue["status"] = "signed-in") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <UserContext.Provider value={user(status)}>
        <MemoryView />
      </UserContext.Provider>
    </QueryClientProvider>,
  );
}

beforeAll(() => {
  // jsdom has <dialog> but not its modal methods.
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
    this.dispatchEvent(new Event("close"));
  };
});

let calls: Call[];
beforeEach(() => {
  calls = [];
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("MemoryView", () => {
  it("lists who said what, in which conversation, each with its own forget button", async () => {
    serve({ 0: page() }, calls);
    show();

    const items = await screen.findAllByTestId("memory-item");
    expect(items).toHaveLength(2);
    expect(within(items[0]!).getByText("You")).toBeTruthy();
    expect(within(items[0]!).getByText("Remembered text number 1")).toBeTruthy();
    expect(within(items[0]!).getByText("1 minute ago")).toBeTruthy();
    expect(within(items[1]!).getByText("Solace")).toBeTruthy();
    expect(
      within(items[1]!)
        .getByRole("link", { name: /Conversation 2/ })
        .getAttribute("href"),
    ).toMatch(/\/chat\/?\?session=s2$/);
    expect(
      within(items[0]!).getByRole("button", {
        name: "Forget this: you said “Remembered text number 1”, 1 minute ago",
      }),
    ).toBeTruthy();
    expect(screen.getByTestId("memory-status").textContent).toContain("Memory is on");
    expect(screen.queryByRole("button", { name: "Show more" })).toBeNull();
    expect(calls[0]?.url).toBe("/api/memory?limit=20&offset=0");
  });

  it("says memory is off on this server, with the reason in a line of its own", async () => {
    serve(
      {
        0: page({
          status: { available: false, reason: "no embedding model" },
          items: [],
          total: 0,
        }),
      },
      calls,
    );
    show();

    expect(await screen.findByText("Memory is off on this server.")).toBeTruthy();
    expect(screen.getByTestId("memory-off-reason").textContent).toBe("no embedding model");
    expect(screen.getByTestId("memory-empty").textContent).toContain("Nothing is remembered yet.");
    expect(screen.queryByRole("button", { name: /Forget everything/ })).toBeNull();
  });

  it("shows an empty state, without asking the server, to someone who never chatted", () => {
    serve({}, calls);
    show("signed-out");

    expect(screen.getByTestId("memory-empty").textContent).toContain("Nothing is remembered yet.");
    expect(screen.getByRole("link", { name: "Start a conversation" })).toBeTruthy();
    expect(calls).toEqual([]);
  });

  it("shows the API's error message", async () => {
    vi.stubGlobal(
      "fetch",
      async () =>
        new Response('{"error":"not_ready","message":"Solace is starting."}', { status: 503 }),
    );
    show();

    expect((await screen.findByRole("alert")).textContent).toBe("Solace is starting.");
  });

  it("loads the next page after what is loaded when there is more", async () => {
    serve({ 0: page({ total: 3 }), 2: page({ items: [item(3)], total: 3 }) }, calls);
    show();

    expect((await screen.findByTestId("memory-count")).textContent).toBe("Showing 2 of 3");
    fireEvent.click(screen.getByRole("button", { name: "Show more" }));

    await waitFor(() => expect(screen.getAllByTestId("memory-item")).toHaveLength(3));
    expect(calls.at(-1)?.url).toBe("/api/memory?limit=20&offset=2");
    expect(screen.queryByRole("button", { name: "Show more" })).toBeNull();
    expect(screen.getByTestId("memory-count").textContent).toBe("3 pieces");
  });

  it("forgets one item and takes it off the list", async () => {
    serve({ 0: page() }, calls);
    show();

    fireEvent.click(await screen.findByRole("button", { name: /^Forget this: you said/ }));

    await waitFor(() => expect(screen.getAllByTestId("memory-item")).toHaveLength(1));
    expect(calls.at(-1)).toMatchObject({ method: "DELETE", url: "/api/memory/items/m1" });
    expect(screen.queryByText("Remembered text number 1")).toBeNull();
    expect(screen.getByTestId("memory-count").textContent).toBe("1 piece");
  });

  it("sends both choices when one switch changes", async () => {
    serve({ 0: page({ choices: { paused: false, hard_moments: true } }) }, calls);
    show();

    const pause = await screen.findByRole("switch", { name: "Pause memory" });
    expect(pause.getAttribute("aria-checked")).toBe("false");
    fireEvent.click(pause);

    await waitFor(() => expect(pause.getAttribute("aria-checked")).toBe("true"));
    expect(calls.at(-1)).toEqual({
      method: "PUT",
      url: "/api/memory/choices",
      body: { paused: true, hard_moments: true },
    });
    expect(screen.getByTestId("memory-status").textContent).toContain("Memory is paused");
    expect(
      screen
        .getByRole("switch", { name: "Also remember hard moments" })
        .getAttribute("aria-checked"),
    ).toBe("true");
  });

  it("puts a switch back and says why when the choice could not be stored", async () => {
    vi.stubGlobal("fetch", async (_input: RequestInfo | URL, init: RequestInit = {}) =>
      init.method === "PUT"
        ? new Response('{"error":"rate_limited","message":"Slow down a little."}', {
            status: 429,
          })
        : new Response(JSON.stringify(page()), { status: 200 }),
    );
    show();

    const pause = await screen.findByRole("switch", { name: "Pause memory" });
    fireEvent.click(pause);

    expect((await screen.findByRole("alert")).textContent).toBe("Slow down a little.");
    expect(pause.getAttribute("aria-checked")).toBe("false");
  });

  it("forgets everything only after the confirmation, then shows the empty state", async () => {
    serve({ 0: page() }, calls);
    show();

    fireEvent.click(await screen.findByRole("button", { name: "Forget everything" }));
    const dialog = screen.getByRole("dialog", { name: "Forget everything Solace remembers?" });
    expect(calls.every((call) => call.method === "GET")).toBe(true);
    fireEvent.click(within(dialog).getByRole("button", { name: "Forget everything" }));

    await waitFor(() => expect(screen.getByTestId("memory-empty")).toBeTruthy());
    expect(calls.at(-1)).toMatchObject({ method: "DELETE", url: "/api/memory" });
    expect(screen.queryAllByTestId("memory-item")).toHaveLength(0);
  });
});

describe("speaker and snippet", () => {
  it("names the person You and the assistant Solace", () => {
    expect(speaker("user")).toBe("You");
    expect(speaker("assistant")).toBe("Solace");
  });

  it("keeps the first words of a long text", () => {
    expect(snippet("one two three", 8)).toBe("one two three");
    expect(snippet("  a b c d e  ", 3)).toBe("a b c…");
  });
});
