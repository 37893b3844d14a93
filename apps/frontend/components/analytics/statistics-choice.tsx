"use client";

import { useSyncExternalStore, useState } from "react";

import { browserOptsOut, setStatistics, statisticsOff } from "@/lib/analytics";

const subscribe = () => () => {};

/**
 * The device's choice about anonymous usage statistics (on the privacy and account
 * pages). It lives in the browser, so the static page renders nothing for it until then.
 */
export function StatisticsChoice() {
  const inBrowser = useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
  const [on, setOn] = useState(() => typeof window !== "undefined" && !statisticsOff());
  if (!inBrowser) return null;
  if (browserOptsOut()) {
    return (
      <p className="text-sm text-muted-foreground" data-testid="statistics-browser-off">
        Your browser asks sites not to track you (Do Not Track or Global Privacy Control), so
        nothing is sent.
      </p>
    );
  }
  return (
    <label className="flex items-center gap-3 text-sm">
      <input
        type="checkbox"
        className="size-4 accent-primary"
        checked={on}
        onChange={(event) => {
          setStatistics(event.target.checked);
          setOn(event.target.checked);
        }}
      />
      Share anonymous usage statistics from this device
    </label>
  );
}
