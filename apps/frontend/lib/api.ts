import { readSse } from "./sse";

/**
 * The one typed client for Solace's backend. The web app is served from the same
 * origin as the API, so paths are relative and the login cookie travels along.
 */

/** An error the API answered with: `{"error": "snake_case_code", "message": "…"}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }

  /** Worth trying again later: the server or the network had a problem, not the request. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

type Fetch = typeof fetch;

/**
 * The CSRF token of the current session. The server hands it out with every session
 * response; state-changing requests must echo it in a header.
 */
let csrfToken: string | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function isErrorBody(value: unknown): value is { error: string; message: string } {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Record<string, unknown>).error === "string" &&
    typeof (value as Record<string, unknown>).message === "string"
  );
}

async function request<T>(url: string, init: RequestInit, fetchImpl: Fetch): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("Accept", "application/json");
  if (init.body !== undefined && !headers.has("Content-Type")) {
    headers.set("Content-Type", "application/json");
  }
  const method = (init.method ?? "GET").toUpperCase();
  if (csrfToken && !SAFE_METHODS.has(method)) {
    headers.set("X-CSRF-Token", csrfToken);
  }
  let response: Response;
  try {
    response = await fetchImpl(url, { credentials: "same-origin", ...init, headers });
  } catch {
    throw new ApiError(0, "network_error", "Solace could not be reached. Check your connection.");
  }
  const text = await response.text();
  let body: unknown = undefined;
  if (text.length > 0) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  if (!response.ok) {
    if (isErrorBody(body)) throw new ApiError(response.status, body.error, body.message);
    throw new ApiError(
      response.status,
      "unexpected_response",
      `The server answered ${response.status}.`,
    );
  }
  return body as T;
}

/** Calls `/api{path}` and returns the decoded JSON body, or throws an {@link ApiError}. */
export function apiFetch<T>(
  path: string,
  init: RequestInit = {},
  fetchImpl: Fetch = fetch,
): Promise<T> {
  return request<T>(`/api${path}`, init, fetchImpl);
}

export interface Health {
  status: "ok";
  version: string;
}

/** Liveness of the backend. */
export function getHealth(fetchImpl: Fetch = fetch): Promise<Health> {
  return request<Health>("/healthz", {}, fetchImpl);
}

export interface CrisisLine {
  regions: string[];
  name: string;
  contact: string;
  how: string;
  hours: string;
  url: string;
}

export interface CrisisResources {
  region: string | null;
  lines: CrisisLine[];
}

/** Crisis lines for a region, or for the browser's language region when none is given. */
export function getCrisisResources(
  region?: string,
  fetchImpl: Fetch = fetch,
): Promise<CrisisResources> {
  const query = region ? `?region=${encodeURIComponent(region)}` : "";
  return apiFetch<CrisisResources>(`/crisis/resources${query}`, {}, fetchImpl);
}

export type AnalyticsEvent = {
  name: string;
  path?: string;
  properties?: Record<string, string | number | boolean | null>;
};

/** First-party analytics; failures are ignored because they must never disturb the user. */
export async function trackEvent(event: AnalyticsEvent, fetchImpl: Fetch = fetch): Promise<void> {
  try {
    await apiFetch<{ id: string }>(
      "/events",
      { method: "POST", body: JSON.stringify(event) },
      fetchImpl,
    );
  } catch {
    // Analytics are best effort.
  }
}

export type UserKind = "guest" | "registered";

export interface User {
  id: string;
  kind: UserKind;
  email: string | null;
  /** An identity provider proved the address; a typed address grants nothing. */
  email_verified: boolean;
  display_name: string | null;
  pseudonym: string;
  role: "user" | "admin";
  /** False for guests and for accounts that sign in through an identity provider. */
  has_password: boolean;
  created_at: string;
  updated_at: string;
}

export interface Session {
  user: User;
  csrf_token: string;
}

function remember(session: Session): Session {
  setCsrfToken(session.csrf_token);
  return session;
}

function post<T>(path: string, body: unknown, fetchImpl: Fetch = fetch): Promise<T> {
  return apiFetch<T>(path, { method: "POST", body: JSON.stringify(body) }, fetchImpl);
}

/** The signed-in identity, or `null` when there is no live session. */
export async function getMe(fetchImpl: Fetch = fetch): Promise<Session | null> {
  try {
    return remember(await apiFetch<Session>("/auth/me", {}, fetchImpl));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      setCsrfToken(null);
      return null;
    }
    throw error;
  }
}

export async function continueAsGuest(fetchImpl: Fetch = fetch): Promise<Session> {
  return remember(await post<Session>("/auth/guest", {}, fetchImpl));
}

export interface SignupInput {
  email: string;
  password: string;
  display_name?: string;
}

export async function signup(input: SignupInput, fetchImpl: Fetch = fetch): Promise<Session> {
  return remember(await post<Session>("/auth/signup", input, fetchImpl));
}

export async function login(
  input: { email: string; password: string },
  fetchImpl: Fetch = fetch,
): Promise<Session> {
  return remember(await post<Session>("/auth/login", input, fetchImpl));
}

export async function logout(everywhere = false, fetchImpl: Fetch = fetch): Promise<void> {
  await post<void>(everywhere ? "/auth/logout-all" : "/auth/logout", {}, fetchImpl);
  setCsrfToken(null);
}

export function updateProfile(displayName: string | null, fetchImpl: Fetch = fetch): Promise<User> {
  return apiFetch<User>(
    "/me",
    { method: "PATCH", body: JSON.stringify({ display_name: displayName }) },
    fetchImpl,
  );
}

export async function changePassword(
  input: { current_password: string; new_password: string },
  fetchImpl: Fetch = fetch,
): Promise<void> {
  const { csrf_token } = await post<{ csrf_token: string }>("/me/password", input, fetchImpl);
  setCsrfToken(csrf_token);
}

/** Everything Solace holds about the caller, as a JSON document. */
export function exportMyData(fetchImpl: Fetch = fetch): Promise<Record<string, unknown>> {
  return apiFetch<Record<string, unknown>>("/me/export", {}, fetchImpl);
}

export async function deleteAccount(
  confirmation: { password: string } | { confirm: string },
  fetchImpl: Fetch = fetch,
): Promise<void> {
  await apiFetch<void>("/me", { method: "DELETE", body: JSON.stringify(confirmation) }, fetchImpl);
  setCsrfToken(null);
}

export interface Providers {
  password: boolean;
  guest: boolean;
  oidc: { name: string; login_url: string } | null;
}

/** The ways to sign in that this deployment offers. */
export function getProviders(fetchImpl: Fetch = fetch): Promise<Providers> {
  return apiFetch<Providers>("/auth/providers", {}, fetchImpl);
}

export interface ChatSession {
  id: string;
  title: string;
  flagged_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface ChatMessage {
  id: string;
  session_id: string;
  role: "user" | "assistant" | "system";
  content: string;
  status: "complete" | "incomplete";
  created_at: string;
}

/** The caller's conversations, most recently active first. */
export async function listChatSessions(fetchImpl: Fetch = fetch): Promise<ChatSession[]> {
  const body = await apiFetch<{ sessions: ChatSession[] }>(
    "/chat/sessions?limit=100",
    {},
    fetchImpl,
  );
  return body.sessions;
}

export function renameChatSession(
  id: string,
  title: string,
  fetchImpl: Fetch = fetch,
): Promise<ChatSession> {
  return apiFetch<ChatSession>(
    `/chat/sessions/${encodeURIComponent(id)}`,
    { method: "PATCH", body: JSON.stringify({ title }) },
    fetchImpl,
  );
}

export function deleteChatSession(id: string, fetchImpl: Fetch = fetch): Promise<void> {
  return apiFetch<void>(
    `/chat/sessions/${encodeURIComponent(id)}`,
    { method: "DELETE" },
    fetchImpl,
  );
}

export async function getChatMessages(
  sessionId: string,
  fetchImpl: Fetch = fetch,
): Promise<ChatMessage[]> {
  const body = await apiFetch<{ messages: ChatMessage[] }>(
    `/chat/sessions/${encodeURIComponent(sessionId)}/messages?limit=500`,
    {},
    fetchImpl,
  );
  return body.messages;
}

export interface AiInfo {
  /** What this deployment calls the supporter, e.g. "AI therapist". */
  label: string;
  /** The sentence the UI must always show. */
  disclosure: string;
  model: { configured: boolean; name: string | null };
  max_message_chars: number;
  speech: SpeechInfo;
}

/** How this server does voice. */
export interface SpeechInfo {
  /** Who speaks replies (`espeak-ng`, `openai`, `elevenlabs`), or null when nobody. */
  tts: string | null;
  default_voice: string | null;
  /** The Whisper model the browser can load from `/models/`, when its files are there. */
  browser_transcription: { model: string; dtype: string } | null;
  /** Whether `/api/ai/transcribe` works. */
  server_transcription: boolean;
}

export interface Voice {
  id: string;
  name: string;
  language: string | null;
}

export interface Voices {
  provider: string | null;
  default_voice: string | null;
  voices: Voice[];
}

export function getVoices(fetchImpl: Fetch = fetch): Promise<Voices> {
  return apiFetch<Voices>("/ai/voices", {}, fetchImpl);
}

/** One spoken sentence: fetching `url` waits until its audio is ready. */
export interface AudioClip {
  seq: number;
  key: string;
  url: string;
}

/** Speaks one of the therapist's messages (clips already made are reused). */
export async function speakMessage(
  messageId: string,
  voice: string | null,
  fetchImpl: Fetch = fetch,
): Promise<AudioClip[]> {
  const body = await apiFetch<{ clips: Omit<AudioClip, "seq">[] }>(
    `/ai/messages/${encodeURIComponent(messageId)}/speech`,
    { method: "POST", body: JSON.stringify(voice ? { voice } : {}) },
    fetchImpl,
  );
  return body.clips.map((clip, seq) => ({ ...clip, seq }));
}

/** Transcribes a WAV recording on the server (when the browser cannot). */
export async function transcribeOnServer(
  wav: Blob,
  language = "en",
  fetchImpl: Fetch = fetch,
): Promise<string> {
  const body = await apiFetch<{ text: string }>(
    `/ai/transcribe?language=${encodeURIComponent(language)}`,
    { method: "POST", headers: { "Content-Type": "audio/wav" }, body: wav },
    fetchImpl,
  );
  return body.text;
}

export function getAiInfo(fetchImpl: Fetch = fetch): Promise<AiInfo> {
  return apiFetch<AiInfo>("/ai/info", {}, fetchImpl);
}

export type RiskCategory =
  | "suicidal_ideation"
  | "self_harm"
  | "harm_to_others"
  | "abuse"
  | "medical_emergency"
  | "concern_for_other";

/** How urgent the safety layer judged a message (after the C-SSRS screener). */
export type Severity = "elevated" | "imminent";

/**
 * What the app shows beside the reply: `crisis` — lines first; `check_in` — an "are you
 * safe right now?" check-in with the lines in view; `help_them` — how to help someone else.
 */
export type SafetyResponse = "crisis" | "check_in" | "help_them" | "support";

export interface CrisisNotice {
  severity: Severity;
  response: SafetyResponse;
  categories: RiskCategory[];
  lines: CrisisLine[];
}

/** What the reply stream tells the page, in order. */
export type ReplyEvent =
  | { type: "start"; session_id: string; user_message: ChatMessage }
  | { type: "token"; text: string }
  | { type: "replace"; text: string }
  | ({ type: "audio" } & AudioClip)
  | { type: "done"; session_id: string; message: ChatMessage; crisis: CrisisNotice | null }
  | {
      type: "error";
      error: string;
      message: string;
      retryable: boolean;
      message_id: string | null;
    };

/**
 * Sends a message to the AI and yields the reply as it streams. Errors before the reply
 * starts (validation, rate limits, the model being down) throw an {@link ApiError};
 * errors after it started arrive as an `error` event. Aborting `signal` stops the reply.
 */
export async function* sendChatMessage(
  input: { session_id?: string; content: string; speak?: boolean; voice?: string },
  signal?: AbortSignal,
  fetchImpl: Fetch = fetch,
): AsyncGenerator<ReplyEvent> {
  const headers = new Headers({
    Accept: "text/event-stream",
    "Content-Type": "application/json",
  });
  if (csrfToken) headers.set("X-CSRF-Token", csrfToken);
  let response: Response;
  try {
    response = await fetchImpl("/api/ai/message", {
      method: "POST",
      credentials: "same-origin",
      headers,
      body: JSON.stringify(input),
      signal,
    });
  } catch (error) {
    if (signal?.aborted) return;
    throw error instanceof ApiError
      ? error
      : new ApiError(0, "network_error", "Solace could not be reached. Check your connection.");
  }
  if (!response.ok || !response.body) {
    const body: unknown = await response.json().catch(() => undefined);
    if (isErrorBody(body)) throw new ApiError(response.status, body.error, body.message);
    throw new ApiError(
      response.status,
      "unexpected_response",
      `The server answered ${response.status}.`,
    );
  }
  try {
    for await (const message of readSse(response.body)) {
      const data: unknown = JSON.parse(message.data);
      yield { type: message.event, ...(data as object) } as ReplyEvent;
    }
  } catch {
    if (signal?.aborted) return;
    throw new ApiError(0, "network_error", "The connection was lost while the reply arrived.");
  }
}

/** A personal safety plan: each step a list of entries in the person's own words. */
export interface SafetyPlan {
  warning_signs: string[];
  coping_strategies: string[];
  distractions: string[];
  people_to_contact: string[];
  professionals: string[];
  safe_environment: string[];
  reasons_to_live: string[];
}

export interface SafetyPlanDocument {
  plan: SafetyPlan;
  updated_at: string | null;
}

export function getSafetyPlan(fetchImpl: Fetch = fetch): Promise<SafetyPlanDocument> {
  return apiFetch<SafetyPlanDocument>("/me/safety-plan", {}, fetchImpl);
}

export function saveSafetyPlan(
  plan: SafetyPlan,
  fetchImpl: Fetch = fetch,
): Promise<SafetyPlanDocument> {
  return apiFetch<SafetyPlanDocument>(
    "/me/safety-plan",
    { method: "PUT", body: JSON.stringify(plan) },
    fetchImpl,
  );
}

export type RoomRole = "host" | "moderator" | "speaker" | "listener";

export interface Room {
  id: string;
  title: string;
  topic: string | null;
  visibility: "public" | "private";
  capacity: number;
  status: "live" | "closed";
  closed_at: string | null;
  created_at: string;
}

export interface ListedRoom extends Room {
  participant_count: number;
}

/** Someone in a room as others see them: never a user id. */
export interface Participant {
  handle: string;
  name: string;
  role: RoomRole;
  muted: boolean;
  hand_raised: boolean;
  invited_to_speak: boolean;
  /** Their audio is connected right now; false while they (re)connect. */
  connected: boolean;
  joined_at: string;
}

export interface RoomDetail {
  room: Room;
  participants: Participant[];
  you: Participant | null;
  blocked: string[];
}

export interface NewRoom {
  title: string;
  topic?: string;
  visibility?: "public" | "private";
  capacity?: number;
}

export async function listRooms(fetchImpl: Fetch = fetch): Promise<ListedRoom[]> {
  return (await apiFetch<{ rooms: ListedRoom[] }>("/rooms", {}, fetchImpl)).rooms;
}

export function createRoom(input: NewRoom, fetchImpl: Fetch = fetch): Promise<Room> {
  return post<Room>("/rooms", input, fetchImpl);
}

export function getRoom(id: string, fetchImpl: Fetch = fetch): Promise<RoomDetail> {
  return apiFetch<RoomDetail>(`/rooms/${encodeURIComponent(id)}`, {}, fetchImpl);
}

/** An action in a room (`join`, `hand`, `participants/{handle}/mute`…); answers the room. */
export function roomAction(
  id: string,
  action: string,
  body: unknown = {},
  fetchImpl: Fetch = fetch,
): Promise<RoomDetail> {
  return post<RoomDetail>(`/rooms/${encodeURIComponent(id)}/${action}`, body, fetchImpl);
}

export async function leaveRoom(id: string, fetchImpl: Fetch = fetch): Promise<void> {
  await post<void>(`/rooms/${encodeURIComponent(id)}/leave`, {}, fetchImpl);
}

export interface SignalGrant {
  token: string;
  url: string;
  protocol: number;
  expires_in: number;
  ice_servers: RTCIceServer[];
}

export function getSignalGrant(id: string, fetchImpl: Fetch = fetch): Promise<SignalGrant> {
  return post<SignalGrant>(`/rooms/${encodeURIComponent(id)}/signal-token`, {}, fetchImpl);
}

export interface LiveKitGrant {
  url: string;
  token: string;
  identity: string;
  can_publish: boolean;
}

export function getLiveKitGrant(roomId: string, fetchImpl: Fetch = fetch): Promise<LiveKitGrant> {
  return post<LiveKitGrant>("/livekit/token", { room_id: roomId }, fetchImpl);
}
