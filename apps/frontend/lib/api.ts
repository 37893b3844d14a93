import type { components } from "./api-schema";
import { readSse } from "./sse";

/**
 * The API's types come from its OpenAPI document (docs/openapi.json, generated from the
 * server's handlers): `pnpm --filter @solace/frontend api-types` regenerates
 * `api-schema.ts`, and the tests fail when either is stale. The names below are the
 * app's own for them.
 */
type Schemas = components["schemas"];

/**
 * The one typed client for Solace's backend. The web app is served from the same
 * origin as the API, so paths are relative and the login cookie travels along.
 */

/** An error the API answered with: `{"error": "snake_case_code", "message": "…"}`. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** On a failed chat turn: the conversation the person's message was kept in. */
  readonly sessionId: string | null;
  /** On a failed chat turn: the person's stored message, to answer again on retry. */
  readonly messageId: string | null;

  constructor(
    status: number,
    code: string,
    message: string,
    sessionId: string | null = null,
    messageId: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.sessionId = sessionId;
    this.messageId = messageId;
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

/** An API call that failed on the server's side (5xx) or on the way (status 0). */
export type ApiFailure = {
  status: number;
  code: string;
  method: string;
  url: string;
  /** The server's `x-request-id`, which leads to its log lines. */
  requestId: string | null;
};

let failureReporter: ((failure: ApiFailure) => void) | null = null;

/** Where failed calls are reported (error tracking, when it is on). */
export function setFailureReporter(report: ((failure: ApiFailure) => void) | null): void {
  failureReporter = report;
}

function reportFailure(
  status: number,
  code: string,
  method: string,
  url: string,
  response?: Response,
) {
  if (status !== 0 && status < 500) return;
  // Best-effort statistics (often blocked by ad blockers) and requests cut off because
  // the page is going away are not failures worth reporting.
  if (url.startsWith("/api/events")) return;
  if (typeof document !== "undefined" && document.visibilityState === "hidden") return;
  try {
    failureReporter?.({
      status,
      code,
      method,
      url,
      requestId: response?.headers.get("x-request-id") ?? null,
    });
  } catch {
    // Reporting must never break the app.
  }
}

function isErrorBody(value: unknown): value is {
  error: string;
  message: string;
  session_id?: string | null;
  message_id?: string | null;
} {
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
    reportFailure(0, "network_error", method, url);
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
    const code = isErrorBody(body) ? body.error : "unexpected_response";
    reportFailure(response.status, code, method, url, response);
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

export type Health = Schemas["Alive"];

/** Liveness of the backend. */
export function getHealth(fetchImpl: Fetch = fetch): Promise<Health> {
  return request<Health>("/healthz", {}, fetchImpl);
}

export type CrisisLine = Schemas["CrisisLine"];
export type CrisisResources = Schemas["Resources"];

/** Crisis lines for a region, or for the browser's language region when none is given. */
export function getCrisisResources(
  region?: string,
  fetchImpl: Fetch = fetch,
): Promise<CrisisResources> {
  const query = region ? `?region=${encodeURIComponent(region)}` : "";
  return apiFetch<CrisisResources>(`/crisis/resources${query}`, {}, fetchImpl);
}

export type ClientConfig = Schemas["ClientConfig"];

/** Release, environment and the browser's Sentry DSN (null: error reports off). */
export function getClientConfig(fetchImpl: Fetch = fetch): Promise<ClientConfig> {
  return apiFetch<ClientConfig>("/client-config", {}, fetchImpl);
}

export type AnalyticsEvent = Omit<Schemas["EventInput"], "properties"> & {
  properties?: Record<string, string | number | boolean | null>;
};

/**
 * First-party analytics; failures are ignored because they must never disturb the user.
 * `keepalive` lets a click that leaves the page still be counted.
 */
export async function trackEvent(event: AnalyticsEvent, fetchImpl: Fetch = fetch): Promise<void> {
  try {
    await apiFetch<Schemas["Recorded"] | undefined>(
      "/events",
      { method: "POST", body: JSON.stringify(event), keepalive: true },
      fetchImpl,
    );
  } catch {
    // Analytics are best effort.
  }
}

export type UserKind = Schemas["UserKind"];
export type User = Schemas["User"];
export type Session = Schemas["Session"];

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

export type SignupInput = Schemas["SignupInput"];

export async function signup(input: SignupInput, fetchImpl: Fetch = fetch): Promise<Session> {
  return remember(await post<Session>("/auth/signup", input, fetchImpl));
}

export async function login(
  input: Schemas["LoginInput"],
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
  input: Schemas["PasswordInput"],
  fetchImpl: Fetch = fetch,
): Promise<void> {
  const { csrf_token } = await post<Schemas["NewCsrfToken"]>("/me/password", input, fetchImpl);
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

export type Providers = Schemas["Providers"];

/** The ways to sign in that this deployment offers. */
export function getProviders(fetchImpl: Fetch = fetch): Promise<Providers> {
  return apiFetch<Providers>("/auth/providers", {}, fetchImpl);
}

export type ChatSession = Schemas["ChatSession"];
export type ChatMessage = Schemas["Message"];

/** The caller's conversations, most recently active first. */
export async function listChatSessions(fetchImpl: Fetch = fetch): Promise<ChatSession[]> {
  const body = await apiFetch<Schemas["SessionList"]>("/chat/sessions?limit=100", {}, fetchImpl);
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
  const body = await apiFetch<Schemas["MessageList"]>(
    `/chat/sessions/${encodeURIComponent(sessionId)}/messages?limit=500`,
    {},
    fetchImpl,
  );
  return body.messages;
}

export type AiInfo = Schemas["Info"];
/** How this server does voice. */
export type SpeechInfo = Schemas["SpeechInfo"];
export type Voice = Schemas["Voice"];
export type Voices = Schemas["Voices"];

export function getVoices(fetchImpl: Fetch = fetch): Promise<Voices> {
  return apiFetch<Voices>("/ai/voices", {}, fetchImpl);
}

/** One spoken sentence: fetching `url` waits until its audio is ready. */
export type AudioClip = Schemas["AudioClip"];

/** Speaks one of the therapist's messages (clips already made are reused). */
export async function speakMessage(
  messageId: string,
  voice: string | null,
  fetchImpl: Fetch = fetch,
): Promise<AudioClip[]> {
  const body = await apiFetch<Schemas["SpokenMessage"]>(
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
  const body = await apiFetch<Schemas["Transcript"]>(
    `/ai/transcribe?language=${encodeURIComponent(language)}`,
    { method: "POST", headers: { "Content-Type": "audio/wav" }, body: wav },
    fetchImpl,
  );
  return body.text;
}

export function getAiInfo(fetchImpl: Fetch = fetch): Promise<AiInfo> {
  return apiFetch<AiInfo>("/ai/info", {}, fetchImpl);
}

export type RiskCategory = Schemas["RiskCategory"];

/** How urgent the safety layer judged a message (after the C-SSRS screener). */
export type Severity = Schemas["Severity"];

/**
 * What the app shows beside the reply: `crisis` — lines first; `check_in` — an "are you
 * safe right now?" check-in with the lines in view; `help_them` — how to help someone else.
 */
export type SafetyResponse = Schemas["SafetyResponse"];

export type CrisisNotice = Schemas["SafetyNotice"];
/** A note of Solace's library the reply drew on, named as its source. */
export type LibraryNote = Schemas["LibraryNote"];

/** What the reply stream tells the page, in order: each event's name and its data. */
export type ReplyEvent =
  | ({ type: "start" } & Schemas["Start"])
  | ({ type: "token" } & Schemas["Text"])
  | ({ type: "replace" } & Schemas["Text"])
  | ({ type: "audio" } & AudioClip)
  | ({ type: "done" } & Schemas["Done"])
  | ({ type: "error" } & Schemas["Failure"]);

/**
 * Sends a message to the AI and yields the reply as it streams. Errors before the reply
 * starts (validation, rate limits, the model being down) throw an {@link ApiError};
 * errors after it started arrive as an `error` event. Aborting `signal` stops the reply.
 */
export async function* sendChatMessage(
  input: Schemas["SendInput"],
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
    reportFailure(0, "network_error", "POST", "/api/ai/message");
    throw error instanceof ApiError
      ? error
      : new ApiError(0, "network_error", "Solace could not be reached. Check your connection.");
  }
  if (!response.ok || !response.body) {
    const body: unknown = await response.json().catch(() => undefined);
    const code = isErrorBody(body) ? body.error : "unexpected_response";
    reportFailure(response.status, code, "POST", "/api/ai/message", response);
    if (isErrorBody(body)) {
      throw new ApiError(
        response.status,
        body.error,
        body.message,
        body.session_id ?? null,
        body.message_id ?? null,
      );
    }
    throw new ApiError(
      response.status,
      "unexpected_response",
      `The server answered ${response.status}.`,
    );
  }
  try {
    for await (const message of readSse(response.body)) {
      const data: unknown = JSON.parse(message.data);
      const event = { type: message.event, ...(data as object) } as ReplyEvent;
      // The model failed mid-reply (the stream itself is a 200): a server-side failure.
      if (event.type === "error") {
        reportFailure(event.status, event.error, "POST", "/api/ai/message", response);
      }
      yield event;
    }
  } catch {
    if (signal?.aborted) return;
    throw new ApiError(0, "network_error", "The connection was lost while the reply arrived.");
  }
}

/** A personal safety plan: each step a list of entries in the person's own words. */
export type SafetyPlan = Required<Schemas["SafetyPlan"]>;

/** The plan as the server answers it: every section present. */
export type SafetyPlanDocument = Omit<Schemas["PlanResponse"], "plan"> & { plan: SafetyPlan };

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

// --- Memory across conversations -------------------------------------------------------

/** What memory can do on this server (`available: false` says why in `reason`). */
export type MemoryStatus = Schemas["MemoryStatus"];
/** The person's choices: memory paused, and whether flagged moments may be kept. */
export type MemoryChoices = Schemas["Choices"];
/** One remembered piece of a past conversation (`role`: `user` or `assistant`). */
export type MemoryItem = Schemas["Item"];
/** A page of what Solace remembers, newest first, with the status and choices. */
export type MemoryPage = Schemas["MemoryPage"];

/** What Solace remembers of the caller's conversations; `limit` is 1–100. */
export function getMemory(
  { limit = 20, offset = 0 }: { limit?: number; offset?: number } = {},
  fetchImpl: Fetch = fetch,
): Promise<MemoryPage> {
  return apiFetch<MemoryPage>(`/memory?limit=${limit}&offset=${offset}`, {}, fetchImpl);
}

/** Forgets one remembered item (a 404 when it is not the caller's). */
export function forgetMemoryItem(id: string, fetchImpl: Fetch = fetch): Promise<void> {
  return apiFetch<void>(`/memory/items/${encodeURIComponent(id)}`, { method: "DELETE" }, fetchImpl);
}

/** Forgets everything remembered of the caller; their conversations stay. */
export function forgetAllMemory(fetchImpl: Fetch = fetch): Promise<void> {
  return apiFetch<void>("/memory", { method: "DELETE" }, fetchImpl);
}

/** Sets both memory choices at once and answers them as stored. */
export function setMemoryChoices(
  choices: Schemas["ChoicesInput"],
  fetchImpl: Fetch = fetch,
): Promise<MemoryChoices> {
  return apiFetch<MemoryChoices>(
    "/memory/choices",
    { method: "PUT", body: JSON.stringify(choices) },
    fetchImpl,
  );
}

export type RoomRole = Schemas["RoomRole"];
export type Room = Schemas["Room"];
export type ListedRoom = Schemas["Listed"];
/** Someone in a room as others see them: never a user id. */
export type Participant = Schemas["ParticipantView"];
export type RoomDetail = Schemas["RoomDetail"];
export type NewRoom = Schemas["RoomInput"];

export async function listRooms(fetchImpl: Fetch = fetch): Promise<ListedRoom[]> {
  return (await apiFetch<Schemas["RoomList"]>("/rooms", {}, fetchImpl)).rooms;
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

export type SignalGrant = Schemas["SignalToken"];

export function getSignalGrant(id: string, fetchImpl: Fetch = fetch): Promise<SignalGrant> {
  return post<SignalGrant>(`/rooms/${encodeURIComponent(id)}/signal-token`, {}, fetchImpl);
}

export type LiveKitGrant = Schemas["LiveKitToken"];

export function getLiveKitGrant(roomId: string, fetchImpl: Fetch = fetch): Promise<LiveKitGrant> {
  return post<LiveKitGrant>("/livekit/token", { room_id: roomId }, fetchImpl);
}

// --- The admin console (administrators only) ---------------------------------------

export type AdminOverview = Schemas["Overview"];
export type AdminPerson = Schemas["Person"];
export type AdminReport = Schemas["ReportView"];
export type AdminReportDetail = Schemas["ReportDetail"];
export type ReportAction = Schemas["ReportAction"];
export type AuditEntry = Schemas["AuditEntry"];
export type DeadJob = Schemas["DeadJob"];
export type LiveRoom = Schemas["Listed"];

export function getAdminOverview(days = 30): Promise<AdminOverview> {
  return apiFetch<AdminOverview>(`/admin/overview?days=${days}`);
}

export async function listReports(status: "open" | "resolved" = "open"): Promise<AdminReport[]> {
  const body = await apiFetch<Schemas["ReportList"]>(`/admin/reports?status=${status}&limit=100`);
  return body.reports;
}

export function getReport(id: string): Promise<AdminReportDetail> {
  return apiFetch<AdminReportDetail>(`/admin/reports/${encodeURIComponent(id)}`);
}

export function actOnReport(id: string, action: ReportAction, note?: string): Promise<AdminReport> {
  return apiFetch<AdminReport>(`/admin/reports/${encodeURIComponent(id)}/act`, {
    method: "POST",
    body: JSON.stringify({ action, ...(note ? { note } : {}) }),
  });
}

export async function searchPeople(q: string): Promise<AdminPerson[]> {
  const body = await apiFetch<Schemas["People"]>(
    `/admin/users?limit=50&q=${encodeURIComponent(q)}`,
  );
  return body.people;
}

export function banPerson(id: string, reason: string): Promise<void> {
  return apiFetch<void>(`/admin/users/${encodeURIComponent(id)}/ban`, {
    method: "POST",
    body: JSON.stringify({ reason }),
  });
}

export function unbanPerson(id: string): Promise<void> {
  return apiFetch<void>(`/admin/users/${encodeURIComponent(id)}/ban`, { method: "DELETE" });
}

export function deletePerson(id: string): Promise<void> {
  return apiFetch<void>(`/admin/users/${encodeURIComponent(id)}`, { method: "DELETE" });
}

export async function listLiveRooms(): Promise<LiveRoom[]> {
  const body = await apiFetch<Schemas["LiveRooms"]>("/admin/rooms?limit=100");
  return body.rooms;
}

export function endRoom(id: string): Promise<Schemas["Room"]> {
  return apiFetch<Schemas["Room"]>(`/rooms/${encodeURIComponent(id)}/close`, { method: "POST" });
}

export async function listDeadJobs(): Promise<DeadJob[]> {
  const body = await apiFetch<Schemas["DeadJobs"]>("/admin/jobs/dead");
  return body.jobs;
}

export function retryJob(id: string, queue: string): Promise<void> {
  return apiFetch<void>(
    `/admin/jobs/${encodeURIComponent(id)}/retry?queue=${encodeURIComponent(queue)}`,
    { method: "POST" },
  );
}

export async function listAudit(): Promise<AuditEntry[]> {
  const body = await apiFetch<Schemas["AuditLog"]>("/admin/audit?limit=100");
  return body.entries;
}

// --- First run: the first administrator and the language model ---------------------

export type ModelSetup = Schemas["ModelSetup"];
export type ModelChoice = Schemas["Choice"];
export type ModelDownload = Schemas["Download"];

/** How far a model download has come, 0–100; `null` when its size is unknown. */
export function downloadPercent(download: ModelDownload): number | null {
  const total = download.total_bytes ?? 0;
  return total > 0 ? Math.min(100, Math.floor((download.done_bytes / total) * 100)) : null;
}

/** Whether a model is being downloaded or loaded. */
export function installing(download: ModelDownload | null | undefined): boolean {
  return download?.state === "downloading" || download?.state === "loading";
}

/** Whether the server still waits for its first administrator. */
export async function getSetupStatus(fetchImpl: Fetch = fetch): Promise<boolean> {
  const body = await apiFetch<Schemas["SetupStatus"]>("/setup", {}, fetchImpl);
  return body.needs_admin;
}

/** Makes the signed-in account the first administrator, with the setup link's token. */
export function claimSetup(token: string, fetchImpl: Fetch = fetch): Promise<void> {
  return apiFetch<void>(
    "/setup/claim",
    { method: "POST", body: JSON.stringify({ token }) },
    fetchImpl,
  );
}

export function getModelSetup(fetchImpl: Fetch = fetch): Promise<ModelSetup> {
  return apiFetch<ModelSetup>("/admin/model", {}, fetchImpl);
}

/** Starts downloading one of the offered models; it answers once it is installed. */
export function downloadModel(choice: string, fetchImpl: Fetch = fetch): Promise<ModelSetup> {
  return apiFetch<ModelSetup>(
    "/admin/model/download",
    { method: "POST", body: JSON.stringify({ choice }) },
    fetchImpl,
  );
}

/** Connects an OpenAI-compatible model server instead of downloading a model. */
export function connectModelServer(
  input: { base_url: string; model: string; api_key?: string },
  fetchImpl: Fetch = fetch,
): Promise<ModelSetup> {
  return apiFetch<ModelSetup>(
    "/admin/model/server",
    { method: "POST", body: JSON.stringify(input) },
    fetchImpl,
  );
}
