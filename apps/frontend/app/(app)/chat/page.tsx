import type { Metadata } from "next";

import { ComingSoon } from "@/components/layout/coming-soon";

export const metadata: Metadata = { title: "AI Therapist" };

export default function ChatPage() {
  return (
    <ComingSoon title="Talk to the AI Therapist">
      <p>
        Here you will have a private conversation — typed or spoken — with a supportive AI that
        remembers what you have shared, streams its reply as it thinks, and reads it aloud if you
        like.
      </p>
      <p>
        It is an AI, not a licensed clinician. If something you write suggests you may be in danger,
        it will first offer crisis lines, a personal safety plan and short grounding exercises.
      </p>
    </ComingSoon>
  );
}
