import type { Metadata } from "next";
import { Phone } from "lucide-react";

import { CrisisLineList } from "@/components/crisis/crisis-line-list";
import { NearbyLines } from "@/components/crisis/nearby-lines";

export const metadata: Metadata = { title: "Crisis resources" };

export default function CrisisPage() {
  return (
    <div className="mx-auto w-full max-w-3xl px-6 py-12">
      <h1 className="mb-4 text-3xl font-semibold tracking-tight sm:text-4xl">Crisis resources</h1>
      <p className="mb-6 text-lg leading-relaxed text-muted-foreground">
        If you are thinking about ending your life, are hurting yourself, or are not safe, you
        deserve help right now from a real person. These lines are free, confidential and staffed by
        people who want to listen.
      </p>
      <div
        role="alert"
        className="mb-10 flex items-start gap-3 rounded-xl border border-danger/40 bg-danger-soft p-5"
      >
        <Phone className="mt-0.5 size-5 shrink-0 text-danger" aria-hidden="true" />
        <p className="font-medium">
          If you are in immediate danger, call your local emergency number now: <strong>911</strong>{" "}
          in the US and Canada, <strong>999</strong> in the UK, <strong>112</strong> across the EU
          and in Ireland, <strong>000</strong> in Australia.
        </p>
      </div>
      <NearbyLines />
      <h2 className="mb-4 mt-10 text-xl font-semibold">Crisis lines</h2>
      <CrisisLineList />
      <p className="mt-8 text-muted-foreground">
        Not listed?{" "}
        <a
          className="font-medium text-primary underline underline-offset-4"
          href="https://findahelpline.com"
        >
          findahelpline.com
        </a>{" "}
        lists free, confidential lines in more than 130 countries.
      </p>
    </div>
  );
}
