"use client";

import { useContext } from "react";

import { UserContext, type UserContextValue } from "@/components/auth/user-provider";

/** The signed-in identity (guest or account) and what can be done with it. */
export function useUser(): UserContextValue {
  const value = useContext(UserContext);
  if (!value) throw new Error("useUser must be used inside <UserProvider>");
  return value;
}

/** The name other people see: the chosen display name, else the pseudonym. */
export function shownName(user: { display_name: string | null; pseudonym: string }): string {
  return user.display_name ?? user.pseudonym;
}
