"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useMemo, useState, type ReactNode } from "react";

import { getMe, logout as apiLogout, type Session, type User } from "@/lib/api";

export type UserStatus = "loading" | "signed-in" | "signed-out";

export interface UserContextValue {
  user: User | null;
  status: UserStatus;
  /** Store a session the server just returned (after login, sign-up, guest). */
  setSession: (session: Session) => void;
  /** Ask the server again who is signed in. */
  refresh: () => Promise<void>;
  logout: (everywhere?: boolean) => Promise<void>;
  /** Drop the identity after the server already ended it (e.g. the account was deleted). */
  forget: () => void;
  /** True after this tab signed out on purpose, so guards send people home, not to login. */
  ended: boolean;
}

export const UserContext = createContext<UserContextValue | null>(null);

const ME = ["me"] as const;

/** Holds the current identity for the whole app; the server is the source of truth. */
export function UserProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const { data, isPending } = useQuery({
    queryKey: ME,
    queryFn: () => getMe(),
    staleTime: 5 * 60_000,
  });

  const [ended, setEnded] = useState(false);
  const setSession = useCallback(
    (session: Session) => {
      setEnded(false);
      queryClient.setQueryData(ME, session);
    },
    [queryClient],
  );
  const forget = useCallback(() => {
    setEnded(true);
    queryClient.setQueryData(ME, null);
    queryClient.removeQueries({ predicate: (query) => query.queryKey[0] !== "me" });
  }, [queryClient]);
  const refresh = useCallback(() => queryClient.invalidateQueries({ queryKey: ME }), [queryClient]);
  const logout = useCallback(
    async (everywhere = false) => {
      await apiLogout(everywhere);
      forget();
    },
    [forget],
  );

  const value = useMemo<UserContextValue>(
    () => ({
      user: data?.user ?? null,
      status: isPending ? "loading" : data ? "signed-in" : "signed-out",
      setSession,
      refresh,
      logout,
      forget,
      ended,
    }),
    [data, isPending, setSession, refresh, logout, forget, ended],
  );
  return <UserContext.Provider value={value}>{children}</UserContext.Provider>;
}
