"use client";

import { motion, useReducedMotion } from "framer-motion";
import { useEffect, useState } from "react";

import { Button } from "@/components/ui/button";

const PHASES = ["Breathe in", "Hold", "Breathe out", "Hold"] as const;
const SECONDS = 4;

/** Box breathing: in, hold, out, hold — four seconds each, with a square to follow. */
export function BoxBreathing() {
  const reduceMotion = useReducedMotion();
  const [running, setRunning] = useState(false);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setTick((t) => t + 1), 1000);
    return () => clearInterval(timer);
  }, [running]);

  const phase = Math.floor(tick / SECONDS) % PHASES.length;
  const second = (tick % SECONDS) + 1;
  const expanded = phase === 0 || phase === 1;

  return (
    <section
      aria-labelledby="box-breathing"
      className="rounded-2xl border border-border bg-card p-6"
    >
      <h2 id="box-breathing" className="text-xl font-semibold">
        Box breathing
      </h2>
      <p className="mt-2 text-muted-foreground">
        Follow the square: breathe in for four, hold for four, out for four, hold for four.
      </p>
      <div className="mt-6 flex flex-col items-center gap-4">
        <div className="flex size-48 items-center justify-center rounded-3xl border-2 border-dashed border-border">
          <motion.div
            className="rounded-2xl bg-primary/70"
            animate={{ scale: running && expanded ? 1 : 0.5 }}
            transition={{ duration: reduceMotion ? 0 : SECONDS, ease: "easeInOut" }}
            style={{ width: "10rem", height: "10rem" }}
          />
        </div>
        <p aria-live="polite" className="text-2xl font-semibold" data-testid="breathing-phase">
          {running ? `${PHASES[phase]} · ${second}` : "Ready when you are"}
        </p>
        <Button
          onClick={() => {
            setTick(0);
            setRunning((r) => !r);
          }}
        >
          {running ? "Stop" : "Start"}
        </Button>
      </div>
    </section>
  );
}
