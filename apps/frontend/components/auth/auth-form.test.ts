import { describe, expect, it } from "vitest";

import { safeNext } from "./auth-form";

describe("safeNext", () => {
  it("keeps paths on this site", () => {
    expect(safeNext("/account/")).toBe("/account/");
  });

  it("refuses other origins and odd inputs", () => {
    for (const raw of [
      null,
      "",
      "https://evil.example",
      "//evil.example",
      "/\\evil.example",
      "account",
    ]) {
      expect(safeNext(raw)).toBe("/");
    }
  });
});
