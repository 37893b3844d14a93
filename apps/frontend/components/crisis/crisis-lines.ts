import type { CrisisLine } from "@/lib/api";

/**
 * The crisis page's own copy of the well-known lines. It is part of the static page on
 * purpose: the page must work when the API is unreachable. The API's directory
 * (`/api/crisis/resources`) adds region matching on top.
 */
export const crisisLines: CrisisLine[] = [
  {
    regions: ["US"],
    name: "988 Suicide & Crisis Lifeline",
    contact: "988",
    how: "call or text",
    hours: "24/7",
    url: "https://988lifeline.org",
  },
  {
    regions: ["CA"],
    name: "9-8-8 Suicide Crisis Helpline",
    contact: "988",
    how: "call or text",
    hours: "24/7",
    url: "https://988.ca",
  },
  {
    regions: ["GB", "IE"],
    name: "Samaritans",
    contact: "116 123",
    how: "call",
    hours: "24/7",
    url: "https://www.samaritans.org",
  },
  {
    regions: ["AU"],
    name: "Lifeline Australia",
    contact: "13 11 14",
    how: "call",
    hours: "24/7",
    url: "https://www.lifeline.org.au",
  },
  {
    regions: ["NZ"],
    name: "Need to talk? 1737",
    contact: "1737",
    how: "call or text",
    hours: "24/7",
    url: "https://1737.org.nz",
  },
];

const regionNames: Record<string, string> = {
  US: "United States",
  CA: "Canada",
  GB: "United Kingdom",
  IE: "Ireland",
  AU: "Australia",
  NZ: "New Zealand",
};

/** "United Kingdom & Ireland" for ["GB", "IE"]; "Worldwide" for a line that serves everyone. */
export function describeRegions(regions: string[]): string {
  if (regions.length === 0) return "Worldwide";
  return regions.map((code) => regionNames[code] ?? code).join(" & ");
}

/** A `tel:` or `sms:`-friendly form of a contact: digits only. */
export function dialable(contact: string): string {
  return contact.replace(/[^0-9+]/g, "");
}
