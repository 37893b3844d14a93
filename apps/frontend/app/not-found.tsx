import Link from "next/link";

import { Button } from "@/components/ui/button";

export default function NotFound() {
  return (
    <div className="mx-auto flex max-w-xl flex-col items-start gap-4 px-6 py-16">
      <p className="text-sm font-medium uppercase tracking-wider text-muted-foreground">404</p>
      <h1 className="text-3xl font-semibold tracking-tight">We could not find that page</h1>
      <p className="text-muted-foreground">The link may be old, or the page may have moved.</p>
      <div className="flex flex-wrap gap-3">
        <Button asChild>
          <Link href="/">Go to the start</Link>
        </Button>
        <Button asChild variant="outline">
          <Link href="/crisis/">Crisis resources</Link>
        </Button>
      </div>
    </div>
  );
}
