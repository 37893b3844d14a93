"use client";

import { useState } from "react";

import { Button } from "@/components/ui/button";

const STEPS = [
  { count: 5, sense: "see", hint: "Look around. Name five things you can see, slowly." },
  {
    count: 4,
    sense: "feel",
    hint: "Notice four things you can touch: your feet, a chair, fabric.",
  },
  { count: 3, sense: "hear", hint: "Listen for three sounds, near or far." },
  { count: 2, sense: "smell", hint: "Find two things you can smell — or two smells you like." },
  { count: 1, sense: "taste", hint: "Notice one thing you can taste, or take a sip of water." },
];

/** The 5-4-3-2-1 exercise: one sense at a time, at the person's own pace. */
export function FiveSenses() {
  const [step, setStep] = useState(0);
  const done = step >= STEPS.length;
  const current = STEPS[Math.min(step, STEPS.length - 1)] ?? STEPS[0]!;
  return (
    <section aria-labelledby="five-senses" className="rounded-2xl border border-border bg-card p-6">
      <h2 id="five-senses" className="text-xl font-semibold">
        5-4-3-2-1
      </h2>
      <div aria-live="polite" className="mt-4 min-h-24" data-testid="five-senses-step">
        {done ? (
          <p className="text-lg">
            Well done. Take a slow breath and notice how you feel now. You can start again any time.
          </p>
        ) : (
          <>
            <p className="text-sm text-muted-foreground">
              Step {step + 1} of {STEPS.length}
            </p>
            <p className="mt-1 text-2xl font-semibold">
              {current.count} {current.count === 1 ? "thing" : "things"} you can {current.sense}
            </p>
            <p className="mt-2 text-muted-foreground">{current.hint}</p>
          </>
        )}
      </div>
      <div className="mt-4 flex gap-2">
        {step > 0 && !done && (
          <Button variant="outline" onClick={() => setStep((s) => s - 1)}>
            Back
          </Button>
        )}
        {done ? (
          <Button onClick={() => setStep(0)}>Start again</Button>
        ) : (
          <Button onClick={() => setStep((s) => s + 1)}>
            {step === STEPS.length - 1 ? "Finish" : "Next"}
          </Button>
        )}
      </div>
    </section>
  );
}
