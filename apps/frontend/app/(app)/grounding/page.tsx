import type { Metadata } from "next";

import { BoxBreathing } from "@/components/grounding/box-breathing";
import { FiveSenses } from "@/components/grounding/five-senses";

export const metadata: Metadata = { title: "Grounding exercises" };

export default function GroundingPage() {
  return (
    <div className="mx-auto w-full max-w-2xl px-4 py-10">
      <h1 className="text-3xl font-semibold tracking-tight">Grounding exercises</h1>
      <p className="mt-3 text-muted-foreground">
        When feelings get overwhelming, bringing your attention back to your senses and your breath
        can help the wave pass. Take your time; there is no wrong way to do this.
      </p>
      <div className="mt-8 flex flex-col gap-6">
        <FiveSenses />
        <BoxBreathing />
      </div>
      <p className="mt-8 text-sm text-muted-foreground">
        Still feeling unsafe? Open{" "}
        <a href="/safety-plan/" className="text-primary underline underline-offset-4">
          your safety plan
        </a>{" "}
        or reach a{" "}
        <a href="/crisis/" className="text-primary underline underline-offset-4">
          crisis line
        </a>
        .
      </p>
    </div>
  );
}
