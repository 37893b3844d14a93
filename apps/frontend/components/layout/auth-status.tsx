"use client";

import { LogOut, ShieldCheck, UserRound } from "lucide-react";
import Link from "next/link";
import { useRouter } from "next/navigation";

import { Button } from "@/components/ui/button";
import { shownName, useUser } from "@/hooks/use-user";

/** The navbar's identity slot: who you are here, or the ways in. */
export function AuthStatus() {
  const { user, status, logout } = useUser();
  const router = useRouter();

  if (status === "loading") {
    return (
      <span
        className="h-9 w-24 animate-pulse rounded-full bg-muted motion-reduce:animate-none"
        aria-hidden="true"
      />
    );
  }
  if (!user || user.kind === "guest") {
    return (
      <div className="flex items-center gap-1" data-testid="auth-status">
        {user ? (
          <span
            className="hidden px-2 text-sm text-muted-foreground md:inline"
            title="You are a guest"
          >
            {user.pseudonym}
          </span>
        ) : null}
        <Button asChild variant="ghost" size="sm">
          <Link href="/login/">Log in</Link>
        </Button>
        <Button asChild size="sm" className="hidden sm:inline-flex">
          <Link href="/signup/">Sign up</Link>
        </Button>
      </div>
    );
  }
  return (
    <div className="flex items-center gap-1" data-testid="auth-status">
      {user.role === "admin" ? (
        <Button asChild variant="ghost" size="sm" className="px-2 sm:px-4">
          <Link href="/admin/" aria-label="Admin">
            <ShieldCheck aria-hidden className="sm:hidden" />
            <span className="hidden sm:inline">Admin</span>
          </Link>
        </Button>
      ) : null}
      {/* On phones the account and log-out buttons are icons, so the crisis link keeps
          its words and nothing is pushed off a 320 px screen. */}
      <Button asChild variant="ghost" size="sm" className="px-2 sm:px-4">
        {/* The accessible name is the words shown (and, for the icon, words only a
            screen reader hears): an aria-label that differs from the visible name breaks
            voice control ("click Serene Heron"). */}
        <Link href="/account/">
          <UserRound aria-hidden className="sm:hidden" />
          <span className="sr-only sm:hidden">Your account ({shownName(user)})</span>
          <span className="hidden max-w-48 truncate sm:inline">{shownName(user)}</span>
          <span className="sr-only hidden sm:inline">: your account</span>
        </Link>
      </Button>
      <Button
        variant="outline"
        size="sm"
        className="px-2 sm:px-4"
        aria-label="Log out"
        onClick={async () => {
          await logout();
          router.replace("/");
        }}
      >
        <LogOut aria-hidden className="sm:hidden" />
        <span className="hidden sm:inline">Log out</span>
      </Button>
    </div>
  );
}
