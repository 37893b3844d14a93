import type { Metadata } from "next";

import { RequireAccount } from "@/components/auth/require-account";
import { KeepSetupToken, SetupView } from "@/components/setup/setup-view";

export const metadata: Metadata = { title: "Set up Solace" };

export default function SetupPage() {
  return (
    <>
      {/* Before the sign-in check: the link's token must outlive a detour to log in. */}
      <KeepSetupToken />
      <RequireAccount>
        <SetupView />
      </RequireAccount>
    </>
  );
}
