"use client";

import { useQueryClient } from "@tanstack/react-query";
import { Check, History, MessageSquarePlus, Pencil, Trash2, X } from "lucide-react";
import Link from "next/link";
import { useState, type FormEvent } from "react";

import { Button } from "@/components/ui/button";
import { SESSIONS_KEY, useChatSessions } from "@/hooks/use-chat";
import { deleteChatSession, renameChatSession, type ChatSession } from "@/lib/api";
import { cn } from "@/lib/utils";

interface Props {
  activeId: string | null;
  onSelect: (id: string | null) => void;
}

/** The person's conversations: start a new one, switch, rename, delete. */
export function SessionSidebar({ activeId, onSelect }: Props) {
  const sessions = useChatSessions();
  return (
    <nav aria-label="Conversations" className="flex min-h-0 flex-col gap-3">
      <Button onClick={() => onSelect(null)} variant="outline" className="w-full" title="Alt+N">
        <MessageSquarePlus aria-hidden /> New conversation
      </Button>
      {sessions.isError && (
        <p className="text-sm text-muted-foreground">Your conversations could not be loaded.</p>
      )}
      <ul className="flex min-h-0 flex-col gap-1 overflow-y-auto" data-testid="session-list">
        {(sessions.data ?? []).map((session) => (
          <SessionItem
            key={session.id}
            session={session}
            active={session.id === activeId}
            onSelect={onSelect}
          />
        ))}
      </ul>
      {sessions.data?.length === 0 && (
        <p className="px-2 text-sm text-muted-foreground">
          Your conversations will appear here. Only you can see them.
        </p>
      )}
      <Link
        href="/memory/"
        className="inline-flex items-center gap-2 self-start rounded-lg px-2 py-1 text-sm text-primary underline-offset-4 hover:underline"
      >
        <History aria-hidden className="size-4" /> What Solace remembers
      </Link>
    </nav>
  );
}

function SessionItem({
  session,
  active,
  onSelect,
}: {
  session: ChatSession;
  active: boolean;
  onSelect: Props["onSelect"];
}) {
  const queryClient = useQueryClient();
  const [mode, setMode] = useState<"view" | "rename" | "delete">("view");
  const [title, setTitle] = useState(session.title);
  const [error, setError] = useState<string | null>(null);

  async function rename(event: FormEvent) {
    event.preventDefault();
    try {
      await renameChatSession(session.id, title);
      await queryClient.invalidateQueries({ queryKey: SESSIONS_KEY });
      setMode("view");
      setError(null);
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "Could not rename.");
    }
  }

  async function remove() {
    try {
      await deleteChatSession(session.id);
      if (active) onSelect(null);
      await queryClient.invalidateQueries({ queryKey: SESSIONS_KEY });
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : "Could not delete.");
    }
  }

  if (mode === "rename") {
    return (
      <li>
        <form onSubmit={rename} className="flex items-center gap-1">
          <input
            aria-label="Conversation title"
            value={title}
            maxLength={120}
            autoFocus
            onChange={(e) => setTitle(e.target.value)}
            onKeyDown={(e) => e.key === "Escape" && setMode("view")}
            className="h-9 min-w-0 flex-1 rounded-md border border-border bg-background px-2 text-sm"
          />
          <Button size="icon" variant="ghost" type="submit" aria-label="Save title">
            <Check aria-hidden />
          </Button>
          <Button
            size="icon"
            variant="ghost"
            type="button"
            aria-label="Cancel renaming"
            onClick={() => setMode("view")}
          >
            <X aria-hidden />
          </Button>
        </form>
        {error && <p className="px-2 text-xs text-danger">{error}</p>}
      </li>
    );
  }

  return (
    <li className="group">
      <div
        className={cn(
          "flex items-center gap-1 rounded-lg pr-1",
          active ? "bg-primary-soft" : "hover:bg-muted",
        )}
      >
        <button
          type="button"
          onClick={() => onSelect(session.id)}
          aria-current={active ? "page" : undefined}
          className="min-w-0 flex-1 truncate rounded-lg px-3 py-2 text-left text-sm focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
        >
          {session.title}
        </button>
        {mode === "delete" ? (
          <>
            <Button size="sm" variant="ghost" onClick={remove} className="h-8 px-2 text-danger">
              Delete
            </Button>
            <Button size="sm" variant="ghost" onClick={() => setMode("view")} className="h-8 px-2">
              Keep
            </Button>
          </>
        ) : (
          <>
            <Button
              size="icon"
              variant="ghost"
              className="size-8"
              aria-label={`Rename “${session.title}”`}
              onClick={() => {
                setTitle(session.title);
                setMode("rename");
              }}
            >
              <Pencil aria-hidden />
            </Button>
            <Button
              size="icon"
              variant="ghost"
              className="size-8"
              aria-label={`Delete “${session.title}”`}
              onClick={() => setMode("delete")}
            >
              <Trash2 aria-hidden />
            </Button>
          </>
        )}
      </div>
      {error && <p className="px-2 text-xs text-danger">{error}</p>}
    </li>
  );
}
