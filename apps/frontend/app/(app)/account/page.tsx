import type { Metadata } from "next";

import { AccountSettings } from "@/components/account/account-settings";
import { RequireAccount } from "@/components/auth/require-account";

export const metadata: Metadata = { title: "Your account" };

export default function AccountPage() {
  return (
    <RequireAccount>
      <AccountSettings />
    </RequireAccount>
  );
}
