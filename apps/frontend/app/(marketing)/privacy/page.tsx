import type { Metadata } from "next";
import Link from "next/link";

import { StatisticsChoice } from "@/components/analytics/statistics-choice";
import { Prose } from "@/components/ui/prose";

export const metadata: Metadata = { title: "Privacy" };

export default function PrivacyPage() {
  return (
    <Prose>
      <h1>Privacy</h1>
      <p>
        What you tell Solace is health information. We treat it with the care that deserves, and we
        built the software so that the people who run it cannot be careless with it by accident.
      </p>
      <h2>What is stored</h2>
      <ul>
        <li>
          Your account, if you make one: email address, a password hash (never the password), a
          display name.
        </li>
        <li>Your pseudonym, whether you have an account or visit as a guest.</li>
        <li>
          Your conversations with the AI supporter, so it can remember them for you. They, your
          safety plan and what Solace remembers are stored encrypted with a key of your own; copies
          of the database, backups included, cannot be read without it.
        </li>
        <li>
          When you joined and left audio rooms, and moderation actions taken there. Audio is never
          recorded.
        </li>
        <li>
          Anonymous usage statistics such as “a page was viewed” or “a first reply arrived”: the
          page’s route and a random id for this browser tab’s visit — never what you wrote, your IP
          address or your account. Nothing is sent when your browser asks not to be tracked (Do Not
          Track, Global Privacy Control), and you can turn it off on your account page. They are
          deleted after 90 days unless the operator sets another period, and may be passed on in the
          same anonymous form to the operator’s analytics service (PostHog or Plausible).
        </li>
      </ul>
      <h2>What is never done</h2>
      <ul>
        <li>Your conversations are never written to logs, and never used for advertising.</li>
        <li>
          Other people only ever see your pseudonym (or the display name you choose to show), never
          your email.
        </li>
        <li>Searches over past conversations only ever look at your own.</li>
      </ul>
      <h2 id="statistics">Usage statistics on this device</h2>
      <StatisticsChoice />
      <h2>Your rights</h2>
      <p>
        You can export everything Solace holds about you as a file, and delete your account and all
        of its content permanently, from your account page. Deleting it also destroys your key, so
        older backups can no longer be read either. Deletion cannot be undone.
      </p>
      <p>
        You can see, pause and delete the pieces of your conversations Solace keeps to understand
        you later, as a guest too, on <Link href="/memory/">What Solace remembers</Link>.
      </p>
      <h2>Who holds your data</h2>
      <p>
        Solace is self-hostable: the organisation running this server holds your data, on
        infrastructure they choose. If they connect an outside language model or speech service, the
        text sent to it is governed by that provider’s terms as well; ask your operator which
        services are enabled.
      </p>
      <p>
        Questions? Contact the operator of this Solace server. If you are struggling right now,
        please visit <Link href="/crisis/">crisis resources</Link>.
      </p>
    </Prose>
  );
}
