"use client";

import { usePathname, useRouter } from "next/navigation";
import { useEffect, type ReactNode } from "react";

import { useUser } from "@/hooks/use-user";

/**
 * Shows its children only to a signed-in account; anyone else is sent to the login page
 * and brought back here afterwards. Guests count as signed out for these pages; someone
 * who just signed out (or deleted their account) here goes home instead.
 */
export function RequireAccount({ children }: { children: ReactNode }) {
  const { user, status, ended } = useUser();
  const router = useRouter();
  const pathname = usePathname();
  const allowed = status === "signed-in" && user?.kind === "registered";

  useEffect(() => {
    if (status !== "loading" && !allowed) {
      router.replace(ended ? "/" : `/login/?next=${encodeURIComponent(pathname)}`);
    }
  }, [status, allowed, ended, router, pathname]);

  if (!allowed) {
    return (
      <div
        className="flex flex-1 items-center justify-center p-16"
        role="status"
        aria-live="polite"
      >
        <span className="size-8 animate-spin rounded-full border-4 border-primary-soft border-t-primary motion-reduce:animate-none" />
        <span className="sr-only">Checking your session…</span>
      </div>
    );
  }
  return <>{children}</>;
}
