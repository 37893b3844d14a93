"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Check, Printer } from "lucide-react";
import Link from "next/link";
import { useState, type FormEvent } from "react";

import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { useUser } from "@/hooks/use-user";
import { continueAsGuest, getSafetyPlan, saveSafetyPlan, type SafetyPlan } from "@/lib/api";

/** The steps of a Stanley–Brown safety plan, in the order they are used in a crisis. */
export const STEPS: { key: keyof SafetyPlan; title: string; prompt: string }[] = [
  {
    key: "warning_signs",
    title: "1. My warning signs",
    prompt: "Thoughts, moods, situations or behaviours that tell me a crisis may be coming.",
  },
  {
    key: "coping_strategies",
    title: "2. Things I can do on my own",
    prompt: "Ways to take my mind off things without contacting anyone: music, a walk, a shower…",
  },
  {
    key: "distractions",
    title: "3. People and places that distract me",
    prompt: "Friends I can hang out with, cafés, a library, a park.",
  },
  {
    key: "people_to_contact",
    title: "4. People I can ask for help",
    prompt: "Names and how to reach them.",
  },
  {
    key: "professionals",
    title: "5. Professionals and services",
    prompt: "My GP or therapist, a crisis line (988 in the US, 116 123 in the UK/IE), local A&E.",
  },
  {
    key: "safe_environment",
    title: "6. Making my surroundings safer",
    prompt: "What I can put away, lock up or give to someone to hold for now.",
  },
  {
    key: "reasons_to_live",
    title: "My reasons for living",
    prompt: "People, pets, plans, places — anything worth staying for.",
  },
];

const EMPTY: SafetyPlan = {
  warning_signs: [],
  coping_strategies: [],
  distractions: [],
  people_to_contact: [],
  professionals: [],
  safe_environment: [],
  reasons_to_live: [],
};

const toText = (items: string[]) => items.join("\n");
const toItems = (text: string) =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);

/** Writes and keeps the person's safety plan; one entry per line in each step. */
export function SafetyPlanForm() {
  const queryClient = useQueryClient();
  const { status, setSession } = useUser();
  const stored = useQuery({
    queryKey: ["safety-plan"],
    queryFn: () => getSafetyPlan(),
    enabled: status === "signed-in",
  });
  // Edits live here until saved; before the first edit the stored plan is shown.
  const [edits, setEdits] = useState<Partial<Record<keyof SafetyPlan, string>>>({});
  const [state, setState] = useState<"idle" | "saving" | "saved">("idle");
  const [error, setError] = useState<string | null>(null);

  const plan = stored.data?.plan ?? EMPTY;
  const value = (key: keyof SafetyPlan) => edits[key] ?? toText(plan[key]);

  async function onSubmit(event: FormEvent) {
    event.preventDefault();
    setState("saving");
    setError(null);
    try {
      if (status !== "signed-in") setSession(await continueAsGuest());
      const next = Object.fromEntries(STEPS.map(({ key }) => [key, toItems(value(key))]));
      const saved = await saveSafetyPlan(next as unknown as SafetyPlan);
      queryClient.setQueryData(["safety-plan"], saved);
      setEdits({});
      setState("saved");
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "Your plan could not be saved.");
      setState("idle");
    }
  }

  return (
    <form onSubmit={onSubmit} className="flex flex-col gap-6" data-testid="safety-plan">
      {STEPS.map((step) => (
        <div key={step.key} className="flex flex-col gap-1.5">
          <label htmlFor={`plan-${step.key}`} className="font-semibold">
            {step.title}
          </label>
          <p id={`plan-${step.key}-hint`} className="text-sm text-muted-foreground">
            {step.prompt} One per line.
          </p>
          <textarea
            id={`plan-${step.key}`}
            rows={3}
            value={value(step.key)}
            aria-describedby={`plan-${step.key}-hint`}
            onChange={(e) => {
              setState("idle");
              setEdits((old) => ({ ...old, [step.key]: e.target.value }));
            }}
            className="rounded-lg border border-border bg-background px-3 py-2 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
          />
        </div>
      ))}
      {error && <Alert>{error}</Alert>}
      <div className="flex flex-wrap items-center gap-3 print:hidden">
        <Button type="submit" disabled={state === "saving"}>
          {state === "saving" ? "Saving…" : "Save my plan"}
        </Button>
        <Button type="button" variant="outline" onClick={() => window.print()}>
          <Printer aria-hidden /> Print
        </Button>
        {state === "saved" && (
          <span role="status" className="flex items-center gap-1 text-sm">
            <Check aria-hidden className="size-4 text-primary" /> Saved. Only you can see it.
          </span>
        )}
        <Link
          href="/grounding/"
          className="text-sm text-primary underline-offset-4 hover:underline"
        >
          Try a grounding exercise
        </Link>
      </div>
    </form>
  );
}
