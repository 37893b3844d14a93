import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";

import { Footer } from "./footer";

describe("Footer", () => {
  it("links every legal and help page and says Solace is not professional care", () => {
    render(<Footer />);

    for (const [name, href] of [
      ["About", "/about/"],
      ["Privacy", "/privacy/"],
      ["Terms", "/terms/"],
      ["Crisis resources", "/crisis/"],
    ]) {
      // next/link drops the trailing slash outside a Next build; the E2E tests check the real one.
      expect(screen.getByRole("link", { name }).getAttribute("href")?.replace(/\/$/, "")).toBe(
        href?.replace(/\/$/, ""),
      );
    }
    expect(screen.getByText(/not a substitute for professional care/i)).toBeTruthy();
  });
});
