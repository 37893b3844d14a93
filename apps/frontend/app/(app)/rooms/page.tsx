import type { Metadata } from "next";

import { ComingSoon } from "@/components/layout/coming-soon";

export const metadata: Metadata = { title: "Social Spaces" };

export default function RoomsPage() {
  return (
    <ComingSoon title="Join a Social Space">
      <p>
        Here you will find live audio rooms on topics like sleep, grief, stress at work or simply a
        gentle evening check-in. You join under a pseudonym, listen first, and raise your hand when
        you would like to speak.
      </p>
      <p>
        Hosts and moderators keep every room safe: they can mute, invite speakers, and remove anyone
        who is unkind.
      </p>
    </ComingSoon>
  );
}
