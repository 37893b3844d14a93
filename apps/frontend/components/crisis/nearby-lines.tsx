"use client";

import { useQuery } from "@tanstack/react-query";

import { CrisisLineCard } from "@/components/crisis/crisis-line-list";
import { getCrisisResources } from "@/lib/api";

/** Lines for the region the browser's language suggests, from the API; silent if unavailable. */
export function NearbyLines() {
  const { data } = useQuery({
    queryKey: ["crisis-resources"],
    queryFn: () => getCrisisResources(),
  });
  const local = data?.lines.filter((line) => line.regions.length > 0) ?? [];
  if (local.length === 0) return null;
  return (
    <section aria-labelledby="nearby-title" data-testid="nearby-lines">
      <h2 id="nearby-title" className="mb-4 text-xl font-semibold">
        Closest to you
      </h2>
      <ul className="grid gap-4 sm:grid-cols-2">
        {local.map((line) => (
          <CrisisLineCard key={`nearby-${line.name}`} line={line} />
        ))}
      </ul>
    </section>
  );
}
