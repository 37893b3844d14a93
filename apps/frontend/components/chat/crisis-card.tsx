"use client";

import { HeartHandshake, ListChecks, ShieldQuestion, Users, Wind } from "lucide-react";
import Link from "next/link";
import { useState } from "react";

import { Button, buttonVariants } from "@/components/ui/button";
import { dialable } from "@/components/crisis/crisis-lines";
import type { CrisisLine, CrisisNotice } from "@/lib/api";

function Lines({ lines, compact = false }: { lines: CrisisLine[]; compact?: boolean }) {
  return (
    <ul className="mt-3 grid gap-2 sm:grid-cols-2">
      {lines.map((line) => {
        const digits = dialable(line.contact);
        return (
          <li key={`${line.name}-${line.contact}`} className="rounded-xl bg-card p-3 text-sm">
            <p className="font-medium">{line.name}</p>
            <a
              href={digits ? `tel:${digits}` : line.url || undefined}
              className={
                compact
                  ? "font-semibold text-primary underline-offset-4 hover:underline"
                  : "text-lg font-semibold text-primary underline-offset-4 hover:underline"
              }
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
  );
}

function Actions() {
  return (
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
  );
}

/** Elevated risk: ask, kindly and directly, with the lines in view; "not safe" brings them forward. */
function CheckIn({ notice }: { notice: CrisisNotice }) {
  const [answer, setAnswer] = useState<"safe" | "unsafe" | null>(null);
  return (
    <section
      aria-labelledby="check-in-title"
      data-testid="crisis-card"
      data-response="check_in"
      className="rounded-2xl border-2 border-primary/40 bg-card p-5"
    >
      <h2 id="check-in-title" className="flex items-center gap-2 text-lg font-semibold">
        <ShieldQuestion aria-hidden className="size-5" /> Are you safe right now?
      </h2>
      {answer === null && (
        <div
          className="mt-3 flex flex-wrap gap-2"
          role="group"
          aria-label="Are you safe right now?"
        >
          <Button size="sm" variant="outline" onClick={() => setAnswer("safe")}>
            I’m safe for now
          </Button>
          <Button size="sm" variant="accent" onClick={() => setAnswer("unsafe")}>
            I’m not safe
          </Button>
        </div>
      )}
      {answer === "safe" && (
        <p className="mt-3 text-sm" role="status">
          Thank you for telling me. If that changes, these lines are here any time.
        </p>
      )}
      {answer === "unsafe" && (
        <p className="mt-3 font-medium text-danger" role="alert" data-testid="not-safe">
          Please reach out to someone right now — call or text a line below, or your local emergency
          number if you might act on these thoughts.
        </p>
      )}
      <Lines lines={notice.lines} compact={answer !== "unsafe"} />
      <Actions />
    </section>
  );
}

/** Someone else may be at risk: how to help them, and the lines they or you can call. */
function HelpThem({ notice }: { notice: CrisisNotice }) {
  return (
    <section
      aria-labelledby="help-them-title"
      data-testid="crisis-card"
      data-response="help_them"
      className="rounded-2xl border-2 border-primary/40 bg-card p-5"
    >
      <h2 id="help-them-title" className="flex items-center gap-2 text-lg font-semibold">
        <Users aria-hidden className="size-5" /> Helping someone who may be at risk
      </h2>
      <p className="mt-2 text-sm text-muted-foreground">
        Ask them directly, listen, help keep them away from anything they could use, and connect
        them with one of these lines. If they are in danger now, call your local emergency number.
      </p>
      <Lines lines={notice.lines} />
      <div className="mt-4 flex flex-wrap gap-2">
        <Link href="/crisis/" className={buttonVariants({ size: "sm", variant: "ghost" })}>
          More crisis lines
        </Link>
      </div>
    </section>
  );
}

/** Imminent danger: people to reach now, first, and two things to do right here. */
function Crisis({ notice }: { notice: CrisisNotice }) {
  return (
    <section
      aria-labelledby="crisis-card-title"
      data-testid="crisis-card"
      data-response="crisis"
      className="rounded-2xl border-2 border-danger/50 bg-danger-soft p-5"
    >
      <h2 id="crisis-card-title" className="flex items-center gap-2 text-lg font-semibold">
        <HeartHandshake aria-hidden className="size-5" /> You don’t have to go through this alone
      </h2>
      <Lines lines={notice.lines} />
      <Actions />
    </section>
  );
}

/** Shown under a reply the safety layer graded: the card follows the detector's severity. */
export function CrisisCard({ notice }: { notice: CrisisNotice }) {
  switch (notice.response) {
    case "check_in":
      return <CheckIn notice={notice} />;
    case "help_them":
      return <HelpThem notice={notice} />;
    default:
      return <Crisis notice={notice} />;
  }
}
