import { describe, expect, it } from "vitest";

import { crisisLines, describeRegions, dialable } from "./crisis-lines";

describe("crisis lines", () => {
  it("include 988 for the US and Samaritans for the UK and Ireland", () => {
    expect(crisisLines.find((l) => l.regions.includes("US"))?.contact).toBe("988");
    expect(crisisLines.find((l) => l.regions.includes("GB"))?.contact).toBe("116 123");
  });

  it("describe their regions by name", () => {
    expect(describeRegions(["GB", "IE"])).toBe("United Kingdom & Ireland");
    expect(describeRegions([])).toBe("Worldwide");
  });

  it("turn contacts into dialable digits", () => {
    expect(dialable("116 123")).toBe("116123");
    expect(dialable("findahelpline.com")).toBe("");
  });
});
