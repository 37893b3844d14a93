"use client";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { MotionConfig } from "framer-motion";
import { ThemeProvider } from "next-themes";
import { useEffect, useState, type ReactNode } from "react";

import { Statistics } from "@/components/analytics/statistics";
import { UserProvider } from "@/components/auth/user-provider";
import { registerServiceWorker } from "@/components/providers/service-worker";
import { startErrorReporting } from "@/lib/error-reporting";

/** App-wide context: theme (system default, no flash), server state, identity, motion. */
export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: { queries: { staleTime: 60_000, retry: 1, refetchOnWindowFocus: false } },
      }),
  );
  useEffect(() => {
    void startErrorReporting();
    registerServiceWorker();
  }, []);
  return (
    <ThemeProvider attribute="class" defaultTheme="system" enableSystem disableTransitionOnChange>
      <QueryClientProvider client={queryClient}>
        <UserProvider>
          <Statistics />
          <MotionConfig reducedMotion="user">{children}</MotionConfig>
        </UserProvider>
      </QueryClientProvider>
    </ThemeProvider>
  );
}
