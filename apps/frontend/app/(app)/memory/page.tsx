import type { Metadata } from "next";

import { MemoryView } from "@/components/memory/memory-view";

export const metadata: Metadata = { title: "What Solace remembers" };

export default function MemoryPage() {
  return <MemoryView />;
}
