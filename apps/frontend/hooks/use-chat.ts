"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useRef, useState } from "react";

import { useUser } from "@/hooks/use-user";
import { trackOnce } from "@/lib/analytics";
import {
  ApiError,
  continueAsGuest,
  getChatMessages,
  listChatSessions,
  sendChatMessage,
  type AudioClip,
  type ChatMessage,
  type CrisisNotice,
  type LibraryNote,
} from "@/lib/api";

export const SESSIONS_KEY = ["chat-sessions"] as const;
const messagesKey = (id: string | null) => ["chat-messages", id] as const;

/** The reply being written: nothing yet (waiting) or some text (streaming). */
export interface Draft {
  text: string;
  phase: "waiting" | "streaming";
}

export interface ChatError {
  message: string;
  retryable: boolean;
  /** What to send again when the person presses retry. */
  content: string;
  /** The person's message as stored before the reply failed: a retry answers it again
   * rather than storing it twice. */
  stored: { sessionId: string; messageId: string } | null;
}

/** How a reply is spoken: asked of the voice settings at send time. */
export interface ReplySpeech {
  /** Whether to ask for a spoken reply, and in which voice. */
  wanted: () => { speak: boolean; voice: string | null };
  /** A clip of the reply is on its way. */
  clip: (clip: AudioClip) => void;
  /** The reply was replaced by the safety layer: drop what was queued. */
  replaced: () => void;
  /** The reply is over (its message id, or null when it failed). */
  finished: (messageId: string | null) => void;
}

/**
 * One conversation with the AI: its stored messages, the reply streaming in, and the
 * actions on it. `sessionId` is the conversation shown; `onSessionCreated` hears the id
 * of a conversation the first message created; `speech` speaks replies when wanted.
 */
export function useChat(
  sessionId: string | null,
  onSessionCreated: (id: string) => void,
  speech?: ReplySpeech,
) {
  const queryClient = useQueryClient();
  const { status, setSession } = useUser();
  const signedIn = status === "signed-in";
  const [pending, setPending] = useState<ChatMessage | null>(null);
  const [draft, setDraft] = useState<Draft | null>(null);
  const [error, setError] = useState<ChatError | null>(null);
  const [crisis, setCrisis] = useState<CrisisNotice | null>(null);
  const [source, setSource] = useState<LibraryNote | null>(null);
  const controller = useRef<AbortController | null>(null);

  const messages = useQuery({
    queryKey: messagesKey(sessionId),
    queryFn: () => getChatMessages(sessionId ?? ""),
    enabled: signedIn && sessionId !== null,
  });

  // A different conversation starts with a clean slate (state adjusted during render,
  // as React recommends over an effect).
  const [shownSession, setShownSession] = useState(sessionId);
  const [createdId, setCreatedId] = useState<string | null>(null);
  if (shownSession !== sessionId) {
    setShownSession(sessionId);
    // …except the conversation the message being answered has just created.
    if (sessionId !== createdId) {
      setError(null);
      setCrisis(null);
      setSource(null);
    }
  }

  const refresh = useCallback(
    async (id: string | null) => {
      await queryClient.invalidateQueries({ queryKey: SESSIONS_KEY });
      if (id) await queryClient.invalidateQueries({ queryKey: messagesKey(id) });
    },
    [queryClient],
  );

  const send = useCallback(
    async (content: string, stored: ChatError["stored"] = null) => {
      const text = content.trim();
      if (!text || controller.current) return;
      setError(null);
      setCrisis(null);
      setSource(null);
      const abort = new AbortController();
      controller.current = abort;
      let id = stored?.sessionId ?? sessionId;
      // The person's message, until the server says it is stored (a retried one is).
      let kept: ChatError["stored"] = stored;
      if (!stored) {
        setPending({
          id: "pending",
          session_id: id ?? "",
          role: "user",
          content: text,
          status: "complete",
          created_at: new Date().toISOString(),
        });
      }
      setDraft({ text: "", phase: "waiting" });
      trackOnce("chat.started");
      const wanted = speech?.wanted() ?? { speak: false, voice: null };
      let replyId: string | null = null;
      try {
        // A first-time visitor becomes a guest the moment they say something.
        if (!signedIn) setSession(await continueAsGuest());
        for await (const event of sendChatMessage(
          {
            session_id: id ?? undefined,
            content: text,
            ...(stored ? { retry_of: stored.messageId } : {}),
            ...(wanted.speak ? { speak: true, voice: wanted.voice ?? undefined } : {}),
          },
          abort.signal,
        )) {
          if (event.type === "start") {
            if (id !== event.session_id) {
              id = event.session_id;
              setCreatedId(id);
              queryClient.setQueryData(messagesKey(id), []);
              onSessionCreated(id);
            }
            kept = { sessionId: event.session_id, messageId: event.user_message.id };
            const mine = event.user_message;
            queryClient.setQueryData<ChatMessage[]>(messagesKey(id), (old) =>
              old?.some((m) => m.id === mine.id) ? old : [...(old ?? []), mine],
            );
            setPending(null);
          } else if (event.type === "token") {
            setDraft((d) => ({ text: (d?.text ?? "") + event.text, phase: "streaming" }));
          } else if (event.type === "replace") {
            setDraft({ text: event.text, phase: "streaming" });
            speech?.replaced();
          } else if (event.type === "audio") {
            speech?.clip({ seq: event.seq, key: event.key, url: event.url });
          } else if (event.type === "done") {
            trackOnce("chat.reply_seen");
            replyId = event.message.id;
            queryClient.setQueryData<ChatMessage[]>(messagesKey(id), (old) => [
              ...(old ?? []),
              event.message,
            ]);
            setCrisis(event.crisis);
            setSource(event.library ?? null);
          } else if (event.type === "error") {
            setError({
              message: event.message,
              retryable: event.retryable,
              content: text,
              stored: kept,
            });
          }
        }
      } catch (caught) {
        const apiError =
          caught instanceof ApiError
            ? caught
            : new ApiError(0, "unexpected", "Something went wrong. Please try again.");
        // The server kept the message before the reply failed: show it in its
        // conversation, and let the next message continue there.
        if (apiError.sessionId && id !== apiError.sessionId) {
          id = apiError.sessionId;
          setCreatedId(id);
          onSessionCreated(id);
        }
        if (apiError.sessionId && apiError.messageId) {
          kept = { sessionId: apiError.sessionId, messageId: apiError.messageId };
        }
        setError({
          message: apiError.message,
          retryable: apiError.retryable && apiError.code !== "model_not_configured",
          content: text,
          stored: kept,
        });
      } finally {
        if (wanted.speak) speech?.finished(replyId);
        // The server stores whatever happened (a partial reply, a failed turn); after a
        // stop it needs a moment to notice the closed connection.
        if (abort.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 400));
        await refresh(id);
        controller.current = null;
        setPending(null);
        setDraft(null);
      }
    },
    [sessionId, signedIn, setSession, queryClient, onSessionCreated, refresh, speech],
  );

  /** Stops the reply; the server keeps what arrived, marked as cut short. */
  const stop = useCallback(() => {
    controller.current?.abort();
  }, []);

  const retry = useCallback(() => {
    if (error) void send(error.content, error.stored);
  }, [error, send]);

  return {
    messages: messages.data ?? [],
    loading: messages.isPending && sessionId !== null && signedIn,
    pending,
    draft,
    error,
    crisis,
    source,
    busy: draft !== null,
    send,
    stop,
    retry,
    dismissError: () => setError(null),
  };
}

/** The person's conversations, newest first. */
export function useChatSessions() {
  const { status } = useUser();
  return useQuery({
    queryKey: SESSIONS_KEY,
    queryFn: () => listChatSessions(),
    enabled: status === "signed-in",
  });
}
