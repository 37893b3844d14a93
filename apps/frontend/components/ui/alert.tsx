import * as React from "react";

import { cn } from "@/lib/utils";

export function Alert({
  tone = "danger",
  className,
  ...props
}: React.HTMLAttributes<HTMLDivElement> & { tone?: "danger" | "info" }) {
  return (
    <div
      role={tone === "danger" ? "alert" : "status"}
      className={cn(
        "rounded-lg border px-4 py-3 text-sm",
        tone === "danger"
          ? "border-danger/40 bg-danger-soft text-foreground"
          : "border-border bg-primary-soft",
        className,
      )}
      {...props}
    />
  );
}
