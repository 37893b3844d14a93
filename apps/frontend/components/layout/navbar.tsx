import Link from "next/link";
import { LifeBuoy } from "lucide-react";

import { AuthStatus } from "@/components/layout/auth-status";
import { Logo } from "@/components/layout/logo";
import { ThemeToggle } from "@/components/layout/theme-toggle";

export function Navbar() {
  return (
    <header className="sticky top-0 z-40 border-b border-border bg-background/85 backdrop-blur">
      <nav
        aria-label="Main"
        className="mx-auto flex h-16 max-w-6xl items-center justify-between gap-2 px-3 sm:gap-4 sm:px-6"
      >
        <Logo />
        {/* Tighter on the narrowest phones (320 px), so nothing is pushed off the screen. */}
        <div className="flex items-center gap-0.5 sm:gap-2">
          <Link
            href="/crisis/"
            className="inline-flex items-center gap-1.5 rounded-full px-2 py-2 text-sm font-medium text-danger hover:bg-danger-soft sm:px-3"
          >
            <LifeBuoy className="size-4" aria-hidden="true" />
            <span>Get help now</span>
          </Link>
          <AuthStatus />
          <ThemeToggle />
        </div>
      </nav>
    </header>
  );
}
