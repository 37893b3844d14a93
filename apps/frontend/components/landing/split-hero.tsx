"use client";

import { motion } from "framer-motion";
import { ArrowRight, AudioLines, MessageCircleHeart } from "lucide-react";
import Link from "next/link";

import { Button } from "@/components/ui/button";
import { cn } from "@/lib/utils";

const panels = [
  {
    id: "therapist",
    icon: MessageCircleHeart,
    eyebrow: "Private, any time",
    title: "Talk to the AI Therapist",
    body: "A warm, patient listener for whatever is on your mind — by text or by voice. It remembers your conversation, never judges, and is honest that it is an AI.",
    points: [
      "Private by design: your words are never logged",
      "Crisis help comes first when you need it",
    ],
    cta: "Talk to the AI Therapist",
    href: "/chat/",
    tone: "bg-primary-soft",
    variant: "primary" as const,
  },
  {
    id: "spaces",
    icon: AudioLines,
    eyebrow: "Together, under a pseudonym",
    title: "Join a Social Space",
    body: "Live audio rooms where people share and listen. Join as “Bright Otter” or any kind name you are given, speak when you are ready, and rely on moderators to keep the room safe.",
    points: ["Listen first, raise your hand to speak", "Moderated rooms with mute and remove"],
    cta: "Join a Social Space",
    href: "/rooms/",
    tone: "bg-accent-soft",
    variant: "accent" as const,
  },
];

/** The landing page's two doors, side by side on wide screens and stacked on phones. */
export function SplitHero() {
  return (
    <div className="grid flex-1 grid-cols-1 md:grid-cols-2" data-testid="split-hero">
      {panels.map((panel, index) => {
        const Icon = panel.icon;
        return (
          <motion.section
            key={panel.id}
            aria-labelledby={`${panel.id}-title`}
            data-testid={`panel-${panel.id}`}
            data-animate=""
            className={cn("flex items-center px-6 py-16 sm:px-10 lg:px-16", panel.tone)}
            initial={{ opacity: 0, y: 16 }}
            animate={{ opacity: 1, y: 0 }}
            transition={{ duration: 0.6, delay: 0.15 * index, ease: "easeOut" }}
          >
            <div className="mx-auto flex max-w-md flex-col gap-5">
              <span className="inline-flex size-12 items-center justify-center rounded-2xl bg-background/80 shadow-sm">
                <Icon className="size-6 text-foreground" aria-hidden="true" />
              </span>
              <p className="text-sm font-medium uppercase tracking-wider text-muted-foreground">
                {panel.eyebrow}
              </p>
              <h2
                id={`${panel.id}-title`}
                className="text-3xl font-semibold tracking-tight sm:text-4xl"
              >
                {panel.title}
              </h2>
              <p className="text-lg leading-relaxed text-muted-foreground">{panel.body}</p>
              <ul className="flex flex-col gap-2 text-sm text-foreground">
                {panel.points.map((point) => (
                  <li key={point} className="flex items-start gap-2">
                    <span
                      aria-hidden="true"
                      className="mt-2 size-1.5 shrink-0 rounded-full bg-foreground/60"
                    />
                    {point}
                  </li>
                ))}
              </ul>
              <div>
                <Button asChild variant={panel.variant} size="lg">
                  <Link href={panel.href} data-track={`landing.${panel.id}`}>
                    {panel.cta}
                    <ArrowRight aria-hidden="true" />
                  </Link>
                </Button>
              </div>
            </div>
          </motion.section>
        );
      })}
    </div>
  );
}
