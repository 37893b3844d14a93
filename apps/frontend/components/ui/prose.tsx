import * as React from "react";

import { cn } from "@/lib/utils";

/** Long-form text pages (about, privacy, terms) share one readable measure and rhythm. */
export function Prose({ className, ...props }: React.HTMLAttributes<HTMLDivElement>) {
  return (
    <div
      className={cn(
        "mx-auto w-full max-w-3xl px-6 py-12 leading-relaxed",
        "[&_h1]:mb-4 [&_h1]:text-3xl [&_h1]:font-semibold [&_h1]:tracking-tight sm:[&_h1]:text-4xl",
        "[&_h2]:mb-3 [&_h2]:mt-10 [&_h2]:text-xl [&_h2]:font-semibold",
        "[&_p]:mb-4 [&_p]:text-muted-foreground [&_li]:mb-2 [&_li]:text-muted-foreground",
        "[&_ul]:mb-4 [&_ul]:list-disc [&_ul]:pl-6",
        "[&_a]:font-medium [&_a]:text-primary [&_a]:underline [&_a]:underline-offset-4",
        className,
      )}
      {...props}
    />
  );
}
