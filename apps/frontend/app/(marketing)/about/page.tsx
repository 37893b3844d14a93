import type { Metadata } from "next";
import Link from "next/link";

import { Prose } from "@/components/ui/prose";

export const metadata: Metadata = { title: "About" };

export default function AboutPage() {
  return (
    <Prose>
      <h1>About Solace</h1>
      <p>
        Solace is a quiet place to be heard. It brings together two kinds of support that many
        people reach for between appointments, late at night, or before they are ready to talk to
        someone they know.
      </p>
      <h2>A private AI supporter</h2>
      <p>
        You can talk — in writing or out loud — with a supportive language model that listens,
        reflects, and helps you find your next small step. It remembers the conversation so you do
        not have to repeat yourself. It is an AI, not a licensed clinician: it does not diagnose,
        prescribe, or replace professional care, and it always puts crisis resources first when
        someone may be in danger.
      </p>
      <h2>Social spaces</h2>
      <p>
        Live audio rooms let people share and listen together. Everyone joins under a kind pseudonym
        such as “Bright Otter”, listens before speaking, and can leave at any moment. Hosts and
        moderators can mute or remove anyone who makes a room unsafe.
      </p>
      <h2>Open source and self-hostable</h2>
      <p>
        Solace is open source. A clinic, a university, a community group or a single person can run
        the whole platform on one machine with one command, with no outside services — or scale it
        out on PostgreSQL, Redis, LiveKit and the language model of their choice. Your conversations
        stay on the server you trust.
      </p>
      <p>
        Read how we treat your data in our <Link href="/privacy/">privacy notice</Link>, the rules
        of the road in our <Link href="/terms/">terms</Link>, and if you need help right now, go to{" "}
        <Link href="/crisis/">crisis resources</Link>.
      </p>
    </Prose>
  );
}
