import { describe, expect, it } from "vitest";

import { relativeTime } from "./relative-time";

const now = new Date("2025-06-15T12:00:00Z");
const before = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();

describe("relativeTime", () => {
  it("calls the last minute, and a clock slightly ahead, just now", () => {
    expect(relativeTime(before(0), now)).toBe("just now");
    expect(relativeTime(before(59), now)).toBe("just now");
    expect(relativeTime(before(-30), now)).toBe("just now");
  });

  it("names the largest whole unit, rounded down", () => {
    expect(relativeTime(before(5 * 60), now)).toBe("5 minutes ago");
    expect(relativeTime(before(2 * 3600 + 59 * 60), now)).toBe("2 hours ago");
    expect(relativeTime(before(47 * 3600), now)).toBe("yesterday");
    expect(relativeTime(before(3 * 86400), now)).toBe("3 days ago");
    expect(relativeTime(before(15 * 86400), now)).toBe("2 weeks ago");
    expect(relativeTime(before(400 * 86400), now)).toBe("last year");
  });

  it("says nothing for a date it cannot read", () => {
    expect(relativeTime("not a date", now)).toBe("");
  });
});
