import { HeartHandshake, ListChecks, Wind } from "lucide-react";
import Link from "next/link";

import { buttonVariants } from "@/components/ui/button";
import { dialable } from "@/components/crisis/crisis-lines";
import type { CrisisNotice } from "@/lib/api";

/** Shown under a crisis reply: people to reach now, and two things to do right here. */
export function CrisisCard({ notice }: { notice: CrisisNotice }) {
  return (
    <section
      aria-labelledby="crisis-card-title"
      data-testid="crisis-card"
      className="rounded-2xl border-2 border-danger/50 bg-danger-soft p-5"
    >
      <h2 id="crisis-card-title" className="flex items-center gap-2 text-lg font-semibold">
        <HeartHandshake aria-hidden className="size-5" /> You don’t have to go through this alone
      </h2>
      <ul className="mt-3 grid gap-2 sm:grid-cols-2">
        {notice.lines.map((line) => {
          const digits = dialable(line.contact);
          return (
            <li key={`${line.name}-${line.contact}`} className="rounded-xl bg-card p-3 text-sm">
              <p className="font-medium">{line.name}</p>
              <a
                href={digits ? `tel:${digits}` : line.url}
                className="text-lg font-semibold text-primary underline-offset-4 hover:underline"
              >
                {line.contact}
              </a>
              <p className="text-muted-foreground">
                {line.how} · {line.hours}
              </p>
            </li>
          );
        })}
      </ul>
      <div className="mt-4 flex flex-wrap gap-2">
        <Link href="/safety-plan/" className={buttonVariants({ size: "sm" })}>
          <ListChecks aria-hidden /> Make my safety plan
        </Link>
        <Link href="/grounding/" className={buttonVariants({ size: "sm", variant: "outline" })}>
          <Wind aria-hidden /> Try a grounding exercise
        </Link>
        <Link href="/crisis/" className={buttonVariants({ size: "sm", variant: "ghost" })}>
          More crisis lines
        </Link>
      </div>
    </section>
  );
}
