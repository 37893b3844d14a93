import { describeRegions, dialable, crisisLines } from "@/components/crisis/crisis-lines";
import type { CrisisLine } from "@/lib/api";

export function CrisisLineCard({ line }: { line: CrisisLine }) {
  const digits = dialable(line.contact);
  return (
    <li className="rounded-xl border border-border bg-card p-5 shadow-sm">
      <p className="text-sm font-medium uppercase tracking-wider text-muted-foreground">
        {describeRegions(line.regions)}
      </p>
      <h3 className="mt-1 text-lg font-semibold">{line.name}</h3>
      <p className="mt-2 text-2xl font-semibold tracking-tight">
        {digits.length > 0 ? (
          <a href={`tel:${digits}`} className="text-primary underline-offset-4 hover:underline">
            {line.contact}
          </a>
        ) : (
          <a href={line.url} className="text-primary underline-offset-4 hover:underline">
            {line.contact}
          </a>
        )}
      </p>
      <p className="mt-1 text-sm text-muted-foreground">
        {line.how[0]?.toUpperCase()}
        {line.how.slice(1)} · {line.hours} ·{" "}
        <a href={line.url} className="underline underline-offset-4">
          website
        </a>
      </p>
    </li>
  );
}

export function CrisisLineList() {
  return (
    <ul className="grid gap-4 sm:grid-cols-2" data-testid="crisis-lines">
      {crisisLines.map((line) => (
        <CrisisLineCard key={`${line.name}-${line.regions.join()}`} line={line} />
      ))}
    </ul>
  );
}
