/** Larger units first: the first one that fits at least once names the span. */
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["year", 365 * 24 * 60 * 60],
  ["month", 30 * 24 * 60 * 60],
  ["week", 7 * 24 * 60 * 60],
  ["day", 24 * 60 * 60],
  ["hour", 60 * 60],
  ["minute", 60],
];

const format = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/**
 * How long ago `iso` was, in plain English: "just now", "5 minutes ago", "yesterday",
 * "3 weeks ago". Whole units only, rounded down, so 47 hours is "yesterday" rather than
 * "2 days ago"; a time slightly ahead of this device's clock is "just now".
 */
export function relativeTime(iso: string, now: Date = new Date()): string {
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return "";
  const ago = Math.max(0, Math.round((now.getTime() - then) / 1000));
  for (const [unit, size] of UNITS) {
    if (ago >= size) return format.format(-Math.floor(ago / size), unit);
  }
  return "just now";
}
