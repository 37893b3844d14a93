import Link from "next/link";
import type { ReactNode } from "react";

import { Button } from "@/components/ui/button";

/** An honest page for a feature that is being built: what it will do, and where help is now. */
export function ComingSoon({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div className="mx-auto flex w-full max-w-2xl flex-col gap-5 px-6 py-16">
      <p className="text-sm font-medium uppercase tracking-wider text-muted-foreground">
        Arriving in the next release
      </p>
      <h1 className="text-3xl font-semibold tracking-tight sm:text-4xl">{title}</h1>
      <div className="flex flex-col gap-4 text-lg leading-relaxed text-muted-foreground">
        {children}
      </div>
      <div className="flex flex-wrap gap-3 pt-2">
        <Button asChild variant="outline">
          <Link href="/">Back to the start</Link>
        </Button>
        <Button asChild variant="ghost">
          <Link href="/crisis/">Need help now? Crisis resources</Link>
        </Button>
      </div>
    </div>
  );
}
