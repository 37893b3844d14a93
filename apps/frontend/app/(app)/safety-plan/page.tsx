import type { Metadata } from "next";

import { SafetyPlanForm } from "@/components/safety-plan/safety-plan-form";

export const metadata: Metadata = { title: "My safety plan" };

export default function SafetyPlanPage() {
  return (
    <div className="mx-auto w-full max-w-2xl px-4 py-10">
      <h1 className="text-3xl font-semibold tracking-tight">My safety plan</h1>
      <p className="mt-3 text-muted-foreground">
        A safety plan is a short list, written in calm moments, of what to do when things get hard.
        Work through the steps in order until you feel safer. If you are in danger right now, call
        your local emergency number or a{" "}
        <a href="/crisis/" className="text-primary underline underline-offset-4">
          crisis line
        </a>
        .
      </p>
      <div className="mt-8">
        <SafetyPlanForm />
      </div>
    </div>
  );
}
