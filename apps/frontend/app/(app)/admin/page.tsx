import type { Metadata } from "next";

import { AdminConsole } from "@/components/admin/admin-console";
import { RequireAccount } from "@/components/auth/require-account";

export const metadata: Metadata = { title: "Admin console" };

export default function AdminPage() {
  return (
    <RequireAccount>
      <AdminConsole />
    </RequireAccount>
  );
}
