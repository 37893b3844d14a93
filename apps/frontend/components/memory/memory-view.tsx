"use client";

import { MessageSquare, Trash2 } from "lucide-react";
import Link from "next/link";
import { useEffect, useRef, useState, type ReactNode } from "react";

import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { Card } from "@/components/ui/card";
import { Dialog } from "@/components/ui/dialog";
import { Switch } from "@/components/ui/switch";
import { useMemory } from "@/hooks/use-memory";
import { useUser } from "@/hooks/use-user";
import { ApiError, type MemoryChoices, type MemoryItem, type MemoryStatus } from "@/lib/api";
import { relativeTime } from "@/lib/relative-time";

function problem(error: unknown): string {
  return error instanceof ApiError ? error.message : "Something went wrong. Please try again.";
}

/** Who said it, as the person reads it. */
export function speaker(role: string): "You" | "Solace" {
  return role === "user" ? "You" : "Solace";
}

/** The first words of a text, for a button's accessible name. */
export function snippet(text: string, words = 8): string {
  const all = text.trim().split(/\s+/);
  return all.length > words ? `${all.slice(0, words).join(" ")}…` : all.join(" ");
}

/** "What Solace remembers": what memory keeps, the person's choices, each item. */
export function MemoryView() {
  return (
    <div className="mx-auto flex w-full max-w-2xl flex-col gap-6 px-4 py-10">
      <div>
        <h1 className="text-3xl font-semibold tracking-tight">What Solace remembers</h1>
        <div className="mt-3 flex flex-col gap-2 text-muted-foreground">
          <p>
            Solace keeps pieces of your past conversations, what you said and what it answered, so
            that in a later conversation it can understand you without you explaining everything
            again.
          </p>
          <ul className="list-disc space-y-1 pl-6">
            <li>They are used only for that, and only in your own conversations.</li>
            <li>They are never shared with other people.</li>
            <li>
              Moments the safety layer flagged as a crisis are kept only if you choose so below.
            </li>
            <li>Deleting a conversation also forgets what was remembered from it.</li>
          </ul>
        </div>
      </div>
      <MemoryContent />
    </div>
  );
}

function Loading() {
  return (
    <p role="status" className="text-sm text-muted-foreground">
      Loading what Solace remembers…
    </p>
  );
}

function MemoryContent() {
  const { status: session } = useUser();
  const memory = useMemory();

  if (session === "loading") return <Loading />;
  if (session === "signed-out") {
    return (
      <Empty title="Nothing is remembered yet.">
        Solace has not talked with you on this device.{" "}
        <Link href="/chat/" className="text-primary underline underline-offset-4">
          Start a conversation
        </Link>{" "}
        and pieces of it will show up here.
      </Empty>
    );
  }
  if (memory.query.isPending) return <Loading />;
  if (memory.query.isError) return <Alert>{problem(memory.query.error)}</Alert>;
  const { status, choices } = memory;
  if (!status || !choices) return null;
  return (
    <>
      <ChoicesSection status={status} choices={choices} onChoose={memory.choose} />
      <ItemsSection memory={memory} status={status} choices={choices} />
    </>
  );
}

function Empty({ title, children }: { title: string; children: ReactNode }) {
  return (
    <div
      className="rounded-xl border border-dashed border-border p-6 text-center"
      data-testid="memory-empty"
    >
      <p className="font-medium">{title}</p>
      <p className="mt-1 text-sm text-muted-foreground">{children}</p>
    </div>
  );
}

function StatusLine({ status, paused }: { status: MemoryStatus; paused: boolean }) {
  if (!status.available) {
    return (
      <div data-testid="memory-status">
        <p className="font-medium">Memory is off on this server.</p>
        <p className="text-sm text-muted-foreground">
          Nothing is remembered or recalled here until the people who run it turn it on.
        </p>
        {status.reason ? (
          <p className="mt-1 text-sm text-muted-foreground" data-testid="memory-off-reason">
            {status.reason}
          </p>
        ) : null}
      </div>
    );
  }
  return (
    <p className="font-medium" data-testid="memory-status">
      {paused
        ? "Memory is paused: nothing new is remembered and nothing is recalled."
        : "Memory is on: Solace remembers your conversations and recalls what helps."}
    </p>
  );
}

function ChoiceRow({
  id,
  label,
  hint,
  checked,
  disabled,
  onChange,
}: {
  id: string;
  label: string;
  hint: string;
  checked: boolean;
  disabled: boolean;
  onChange: (checked: boolean) => void;
}) {
  return (
    <div className="flex items-start justify-between gap-4">
      <div className="flex min-w-0 flex-col gap-0.5">
        <label htmlFor={id} className="font-medium">
          {label}
        </label>
        <p id={`${id}-hint`} className="text-sm text-muted-foreground">
          {hint}
        </p>
      </div>
      <Switch
        id={id}
        checked={checked}
        disabled={disabled}
        aria-describedby={`${id}-hint`}
        onCheckedChange={onChange}
        className="mt-0.5"
      />
    </div>
  );
}

function ChoicesSection({
  status,
  choices,
  onChoose,
}: {
  status: MemoryStatus;
  choices: MemoryChoices;
  onChoose: (choices: MemoryChoices) => Promise<void>;
}) {
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function change(next: MemoryChoices) {
    setSaving(true);
    setError(null);
    try {
      await onChoose(next);
    } catch (caught) {
      setError(problem(caught));
    } finally {
      setSaving(false);
    }
  }

  return (
    <Card className="flex flex-col gap-5" role="region" aria-labelledby="memory-choices">
      <h2 id="memory-choices" className="text-lg font-semibold leading-tight">
        Your choices
      </h2>
      <StatusLine status={status} paused={choices.paused} />
      <ChoiceRow
        id="memory-paused"
        label="Pause memory"
        hint="While paused, nothing new is remembered and nothing is recalled. What is already remembered stays until you forget it."
        checked={choices.paused}
        disabled={saving}
        onChange={(paused) => void change({ ...choices, paused })}
      />
      <ChoiceRow
        id="memory-hard-moments"
        label="Also remember hard moments"
        hint="Messages the safety layer flagged, such as thoughts of ending your life, are left out unless you turn this on."
        checked={choices.hard_moments}
        disabled={saving}
        onChange={(hard_moments) => void change({ ...choices, hard_moments })}
      />
      {error ? <Alert>{error}</Alert> : null}
    </Card>
  );
}

function emptyHint(status: MemoryStatus, choices: MemoryChoices): string {
  if (!status.available) return "Memory is off on this server, so nothing is remembered.";
  if (choices.paused) return "Memory is paused, so nothing new is remembered.";
  return "Pieces of your conversations show up here a little while after you talk with Solace.";
}

function ItemsSection({
  memory,
  status,
  choices,
}: {
  memory: ReturnType<typeof useMemory>;
  status: MemoryStatus;
  choices: MemoryChoices;
}) {
  const { items, total, query } = memory;
  const heading = useRef<HTMLHeadingElement>(null);
  const buttons = useRef(new Map<string, HTMLButtonElement>());
  const [notice, setNotice] = useState("");
  const [confirming, setConfirming] = useState(false);
  const focusAfterDialog = useRef(false);

  // Once the dialog has closed (its own effect runs first), focus goes to the heading:
  // the button that opened it went with the items.
  useEffect(() => {
    if (!confirming && focusAfterDialog.current) {
      focusAfterDialog.current = false;
      heading.current?.focus();
    }
  }, [confirming]);

  // After an item goes, focus moves to its neighbour's button (or the heading), so
  // keyboard users can keep going from where they were.
  function forgotten(index: number) {
    const next = items[index + 1] ?? items[index - 1];
    const button = next ? buttons.current.get(next.id) : undefined;
    (button ?? heading.current)?.focus();
    setNotice("Forgotten.");
  }

  return (
    <section className="flex flex-col gap-4" aria-labelledby="memory-items">
      <div className="flex flex-wrap items-baseline justify-between gap-x-4 gap-y-1">
        <h2
          id="memory-items"
          ref={heading}
          tabIndex={-1}
          className="text-lg font-semibold leading-tight focus-visible:outline-none"
        >
          Remembered
        </h2>
        {total > 0 ? (
          <p className="text-sm text-muted-foreground" data-testid="memory-count">
            {items.length < total
              ? `Showing ${items.length} of ${total}`
              : `${total} ${total === 1 ? "piece" : "pieces"}`}
          </p>
        ) : null}
      </div>
      <p role="status" className="sr-only">
        {notice}
      </p>
      {items.length === 0 ? (
        <Empty title="Nothing is remembered yet.">{emptyHint(status, choices)}</Empty>
      ) : (
        <ul className="flex flex-col gap-3" data-testid="memory-items">
          {items.map((item, index) => (
            <ItemRow
              key={item.id}
              item={item}
              buttonRef={(button) => {
                if (button) buttons.current.set(item.id, button);
                else buttons.current.delete(item.id);
              }}
              onForget={async () => {
                await memory.forget(item);
                forgotten(index);
              }}
            />
          ))}
        </ul>
      )}
      {query.hasNextPage ? (
        <div>
          <Button
            variant="outline"
            onClick={() => void query.fetchNextPage()}
            disabled={query.isFetchingNextPage}
          >
            {query.isFetchingNextPage ? "Loading…" : "Show more"}
          </Button>
        </div>
      ) : null}
      {query.isFetchNextPageError ? <Alert>{problem(query.error)}</Alert> : null}
      {total > 0 ? (
        <div className="border-t border-border pt-4">
          <Button variant="outline" className="text-danger" onClick={() => setConfirming(true)}>
            <Trash2 aria-hidden /> Forget everything
          </Button>
        </div>
      ) : null}
      <ForgetEverythingDialog
        open={confirming}
        total={total}
        onOpenChange={setConfirming}
        onConfirm={async () => {
          await memory.forgetAll();
          focusAfterDialog.current = true;
          setConfirming(false);
          setNotice("Solace has forgotten everything it remembered.");
        }}
      />
    </section>
  );
}

function ItemRow({
  item,
  buttonRef,
  onForget,
}: {
  item: MemoryItem;
  buttonRef: (button: HTMLButtonElement | null) => void;
  onForget: () => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const who = speaker(item.role);
  const when = relativeTime(item.said_at);

  async function forget() {
    setBusy(true);
    setError(null);
    try {
      await onForget();
    } catch (caught) {
      setError(problem(caught));
      setBusy(false);
    }
  }

  return (
    <li
      className="flex flex-col gap-2 rounded-xl border border-border bg-card p-4 text-card-foreground"
      data-testid="memory-item"
    >
      <div className="flex flex-wrap items-baseline justify-between gap-x-3 gap-y-1 text-sm">
        <span className="font-semibold">{who}</span>
        <time
          dateTime={item.said_at}
          title={new Date(item.said_at).toLocaleString()}
          className="text-muted-foreground"
        >
          {when}
        </time>
      </div>
      <p className="whitespace-pre-wrap break-words">{item.text}</p>
      <div className="flex flex-wrap items-center justify-between gap-2">
        <Link
          href={`/chat/?session=${encodeURIComponent(item.session_id)}`}
          className="inline-flex min-w-0 items-center gap-1.5 text-sm text-muted-foreground underline-offset-4 hover:text-foreground hover:underline"
        >
          <MessageSquare aria-hidden className="size-4 shrink-0" />
          <span className="min-w-0 break-words">
            <span className="sr-only">From the conversation </span>
            {item.session_title}
          </span>
        </Link>
        <Button
          ref={buttonRef}
          variant="ghost"
          size="sm"
          className="px-3"
          // The visible words first, then which item: "Forget this: you said “…”, today".
          aria-label={`Forget this: ${who === "You" ? "you said" : "Solace said"} “${snippet(item.text)}”, ${when}`}
          onClick={() => void forget()}
          disabled={busy}
        >
          <Trash2 aria-hidden />
          Forget this
        </Button>
      </div>
      {error ? <Alert>{error}</Alert> : null}
    </li>
  );
}

function ForgetEverythingDialog({
  open,
  total,
  onOpenChange,
  onConfirm,
}: {
  open: boolean;
  total: number;
  onOpenChange: (open: boolean) => void;
  onConfirm: () => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
    } catch (caught) {
      setError(problem(caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog
      open={open}
      onOpenChange={(next) => {
        if (!next) setError(null);
        onOpenChange(next);
      }}
      title="Forget everything Solace remembers?"
      description={
        <p>
          Solace will forget all {total} {total === 1 ? "piece" : "pieces"} it remembers of your
          conversations. The conversations themselves stay until you delete them. This cannot be
          undone.
        </p>
      }
    >
      {error ? <Alert>{error}</Alert> : null}
      <div className="flex flex-wrap justify-end gap-3">
        <Button variant="outline" data-autofocus onClick={() => onOpenChange(false)}>
          Cancel
        </Button>
        <Button variant="danger" onClick={() => void confirm()} disabled={busy}>
          {busy ? "Forgetting…" : "Forget everything"}
        </Button>
      </div>
    </Dialog>
  );
}
