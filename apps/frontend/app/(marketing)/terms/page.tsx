import type { Metadata } from "next";
import Link from "next/link";

import { Prose } from "@/components/ui/prose";

export const metadata: Metadata = { title: "Terms" };

export default function TermsPage() {
  return (
    <Prose>
      <h1>Terms of use</h1>
      <p>By using Solace you agree to these terms. They are short because they matter.</p>
      <h2>Solace is not medical care</h2>
      <p>
        Solace offers peer and AI support for everyday wellbeing. It is not a substitute for
        diagnosis, treatment or advice from a qualified professional, and it is not an emergency
        service. If you are in danger, call your local emergency number or a line on our{" "}
        <Link href="/crisis/">crisis resources</Link> page.
      </p>
      <h2>The supporter is an AI</h2>
      <p>
        The “AI therapist” is a language model, not a person and not a licensed clinician. It can be
        wrong. It will not diagnose conditions or advise on medication. Treat what it says as a
        conversation, not as instructions.
      </p>
      <h2>Who can use Solace</h2>
      <p>You must be 18 or older, or the age of digital consent where you live if it is higher.</p>
      <h2>Being kind in social spaces</h2>
      <ul>
        <li>Listen with respect. Share your own experience; do not diagnose or lecture others.</li>
        <li>No harassment, hate, threats, sexual content, or encouragement of self-harm.</li>
        <li>Never record, or share what others say outside the room.</li>
        <li>Do not try to find out who is behind a pseudonym.</li>
        <li>
          Hosts and moderators may mute or remove anyone, and reports go to the operator’s admins.
        </li>
      </ul>
      <h2>Your content</h2>
      <p>
        What you write and say stays yours. You can export or delete it at any time; see our{" "}
        <Link href="/privacy/">privacy notice</Link>.
      </p>
      <h2>No warranty</h2>
      <p>
        Solace is open-source software provided as is. The organisation running this server is
        responsible for operating it and may add terms of its own.
      </p>
    </Prose>
  );
}
