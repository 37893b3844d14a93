"use client";

import { usePathname } from "next/navigation";
import { useEffect } from "react";

import { track } from "@/lib/analytics";

/**
 * Page views on every route change, and clicks on calls to action — any element with
 * `data-track="name"` — as `cta.click` with that name. Nothing when not allowed
 * (see `lib/analytics.ts`).
 */
export function Statistics() {
  const pathname = usePathname();

  useEffect(() => {
    track("pageview");
    // The page view is now sent, or decided against: what the browser tests wait for
    // before saying nothing was sent.
    document.documentElement.dataset.pageview = pathname;
  }, [pathname]);

  useEffect(() => {
    const onClick = (event: MouseEvent) => {
      const target = event.target instanceof Element ? event.target : null;
      const cta = target?.closest<HTMLElement>("[data-track]")?.dataset.track;
      if (cta) track("cta.click", { cta });
    };
    document.addEventListener("click", onClick, { capture: true });
    return () => document.removeEventListener("click", onClick, { capture: true });
  }, []);

  return null;
}
