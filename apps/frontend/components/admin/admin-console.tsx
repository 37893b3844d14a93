"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import dynamic from "next/dynamic";
import { useState, type FormEvent, type ReactNode } from "react";

import { Alert } from "@/components/ui/alert";
import { Button } from "@/components/ui/button";
import { useUser } from "@/hooks/use-user";
import {
  ApiError,
  actOnReport,
  banPerson,
  deletePerson,
  endRoom,
  getAdminOverview,
  getReport,
  listAudit,
  listDeadJobs,
  listLiveRooms,
  listReports,
  retryJob,
  searchPeople,
  unbanPerson,
  type AdminPerson,
  type AdminReport,
  type ReportAction,
} from "@/lib/api";

// The chart library is large: it loads only on this page.
const OverviewCharts = dynamic(() => import("./overview-charts").then((m) => m.OverviewCharts), {
  ssr: false,
  loading: () => <p className="text-sm text-muted-foreground">Loading charts…</p>,
});

const tabs = [
  { id: "overview", label: "Overview" },
  { id: "reports", label: "Reports" },
  { id: "people", label: "People" },
  { id: "rooms", label: "Live rooms" },
  { id: "jobs", label: "Dead jobs" },
  { id: "audit", label: "Audit log" },
] as const;
type Tab = (typeof tabs)[number]["id"];

function problem(error: unknown): string {
  return error instanceof ApiError ? error.message : "Something went wrong. Please try again.";
}

function when(iso: string): string {
  return new Date(iso).toLocaleString();
}

/** Runs an action, then refreshes what it changed; says what went wrong if it failed. */
function useAction() {
  const queryClient = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function run(action: () => Promise<unknown>, refresh: string[][]) {
    setError(null);
    setBusy(true);
    try {
      await action();
      await Promise.all(refresh.map((key) => queryClient.invalidateQueries({ queryKey: key })));
    } catch (caught) {
      setError(problem(caught));
    } finally {
      setBusy(false);
    }
  }
  return { run, error, busy };
}

function Loading({ what }: { what: string }) {
  return (
    <p className="text-sm text-muted-foreground" role="status">
      Loading {what}…
    </p>
  );
}

function Empty({ children }: { children: ReactNode }) {
  return <p className="rounded-2xl border border-dashed border-border p-6 text-sm">{children}</p>;
}

function Overview() {
  const overview = useQuery({
    queryKey: ["admin", "overview"],
    queryFn: () => getAdminOverview(30),
  });
  if (overview.isPending) return <Loading what="the overview" />;
  if (overview.isError) return <Alert>{problem(overview.error)}</Alert>;
  const data = overview.data;
  const today = data.days[data.days.length - 1];
  const stats: [string, number | string][] = [
    ["Accounts", data.accounts],
    ["Open reports", data.open_reports],
    ["Live rooms", data.live_rooms],
    ["People active today", today?.active_people ?? 0],
    ["Crisis flags today", (today?.crisis_elevated ?? 0) + (today?.crisis_imminent ?? 0)],
  ];
  return (
    <div className="flex flex-col gap-6">
      <dl className="grid grid-cols-2 gap-3 sm:grid-cols-5" data-testid="admin-stats">
        {stats.map(([label, value]) => (
          <div key={label} className="rounded-2xl bg-muted p-4">
            <dt className="text-xs text-muted-foreground">{label}</dt>
            <dd className="text-2xl font-semibold tabular-nums">{value}</dd>
          </div>
        ))}
      </dl>
      <OverviewCharts overview={data} />
      <p className="text-xs text-muted-foreground">
        Last 30 days, UTC. Counts only: no one&apos;s words, and the funnels count anonymous visits.
      </p>
    </div>
  );
}

function ReportRow({ report }: { report: AdminReport }) {
  const [open, setOpen] = useState(false);
  const [note, setNote] = useState("");
  const detail = useQuery({
    queryKey: ["admin", "report", report.id],
    queryFn: () => getReport(report.id),
    enabled: open,
  });
  const { run, error, busy } = useAction();
  const act = (action: ReportAction) =>
    run(
      () => actOnReport(report.id, action, note.trim() || undefined),
      [
        ["admin", "reports"],
        ["admin", "audit"],
        ["admin", "people"],
      ],
    );
  return (
    <li className="flex flex-col gap-3 rounded-2xl border border-border p-4" data-testid="report">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <p>
          <span className="font-medium">{report.subject_name ?? "Someone"}</span> in{" "}
          <span className="font-medium">{report.room_title ?? "a room that is gone"}</span>:{" "}
          {report.reason}
        </p>
        <span className="text-xs text-muted-foreground">{when(report.created_at)}</span>
      </div>
      <Button variant="ghost" size="sm" className="self-start" onClick={() => setOpen(!open)}>
        {open ? "Hide context" : "Show context"}
      </Button>
      {open ? (
        detail.isPending ? (
          <Loading what="the room's events" />
        ) : detail.isError ? (
          <Alert>{problem(detail.error)}</Alert>
        ) : (
          <ol
            className="flex flex-col gap-1 text-sm"
            aria-label="What happened in the room, newest first"
          >
            {detail.data.context.map((event, index) => (
              <li key={index}>
                <span className="text-muted-foreground">{when(event.at)}</span> —{" "}
                {event.actor ?? "Solace"} {event.kind.replace("_", " ")}
                {event.subject ? ` ${event.subject}` : ""}
                {event.detail ? ` (${event.detail})` : ""}
              </li>
            ))}
          </ol>
        )
      ) : null}
      <label className="flex flex-col gap-1 text-sm">
        Note (shown in the room&apos;s history for a warning or removal)
        <input
          className="h-10 rounded-xl border border-border bg-background px-3"
          value={note}
          maxLength={500}
          onChange={(e) => setNote(e.target.value)}
        />
      </label>
      <div className="flex flex-wrap gap-2">
        <Button size="sm" variant="outline" disabled={busy} onClick={() => void act("warn")}>
          Warn
        </Button>
        <Button size="sm" variant="outline" disabled={busy} onClick={() => void act("remove")}>
          Remove from the room
        </Button>
        <Button size="sm" variant="accent" disabled={busy} onClick={() => void act("ban")}>
          Ban the account
        </Button>
        <Button size="sm" variant="ghost" disabled={busy} onClick={() => void act("dismiss")}>
          Dismiss
        </Button>
      </div>
      {error ? <Alert>{error}</Alert> : null}
    </li>
  );
}

function Reports() {
  const reports = useQuery({ queryKey: ["admin", "reports"], queryFn: () => listReports("open") });
  if (reports.isPending) return <Loading what="reports" />;
  if (reports.isError) return <Alert>{problem(reports.error)}</Alert>;
  if (reports.data.length === 0) return <Empty>No open reports.</Empty>;
  return (
    <ul className="flex flex-col gap-3">
      {reports.data.map((report) => (
        <ReportRow key={report.id} report={report} />
      ))}
    </ul>
  );
}

function PersonRow({ person }: { person: AdminPerson }) {
  const [confirming, setConfirming] = useState<"ban" | "delete" | null>(null);
  const [reason, setReason] = useState("");
  const { run, error, busy } = useAction();
  const refresh = [
    ["admin", "people"],
    ["admin", "audit"],
  ];
  const name = person.email ?? person.pseudonym;
  return (
    <li className="flex flex-col gap-2 rounded-2xl border border-border p-4" data-testid="person">
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <p className="min-w-0 break-words">
          <span className="font-medium">{person.pseudonym}</span>
          {person.email ? <span className="text-muted-foreground"> · {person.email}</span> : null}
          <span className="text-muted-foreground">
            {" "}
            · {person.kind}
            {person.role === "admin" ? " · administrator" : ""}
          </span>
        </p>
        {person.banned_at ? (
          <span className="rounded-full bg-danger-soft px-3 py-1 text-xs text-danger">
            Banned: {person.banned_reason}
          </span>
        ) : null}
      </div>
      {person.role !== "admin" ? (
        <div className="flex flex-wrap gap-2">
          {person.banned_at ? (
            <Button
              size="sm"
              variant="outline"
              disabled={busy}
              onClick={() => void run(() => unbanPerson(person.id), refresh)}
            >
              Unban {name}
            </Button>
          ) : (
            <Button size="sm" variant="outline" onClick={() => setConfirming("ban")}>
              Ban {name}
            </Button>
          )}
          <Button size="sm" variant="ghost" onClick={() => setConfirming("delete")}>
            Delete {name}
          </Button>
        </div>
      ) : null}
      {confirming === "ban" ? (
        <form
          className="flex flex-wrap items-end gap-2"
          onSubmit={(event: FormEvent) => {
            event.preventDefault();
            void run(() => banPerson(person.id, reason), refresh).then(() => setConfirming(null));
          }}
        >
          <label className="flex flex-col gap-1 text-sm">
            Why (kept with the account and in the audit log)
            <input
              className="h-10 rounded-xl border border-border bg-background px-3"
              required
              maxLength={500}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
            />
          </label>
          <Button size="sm" variant="accent" type="submit" disabled={busy}>
            Confirm the ban
          </Button>
          <Button size="sm" variant="ghost" type="button" onClick={() => setConfirming(null)}>
            Cancel
          </Button>
        </form>
      ) : null}
      {confirming === "delete" ? (
        <div
          className="flex flex-wrap items-center gap-2"
          role="group"
          aria-label="Confirm deletion"
        >
          <p className="text-sm">
            Everything this person has in Solace is deleted. This cannot be undone.
          </p>
          <Button
            size="sm"
            variant="accent"
            disabled={busy}
            onClick={() => void run(() => deletePerson(person.id), refresh)}
          >
            Delete permanently
          </Button>
          <Button size="sm" variant="ghost" onClick={() => setConfirming(null)}>
            Cancel
          </Button>
        </div>
      ) : null}
      {error ? <Alert>{error}</Alert> : null}
    </li>
  );
}

function People() {
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const people = useQuery({
    queryKey: ["admin", "people", search],
    queryFn: () => searchPeople(search),
  });
  return (
    <div className="flex flex-col gap-4">
      <form
        role="search"
        className="flex flex-wrap items-end gap-2"
        onSubmit={(event) => {
          event.preventDefault();
          setSearch(q.trim());
        }}
      >
        <label className="flex flex-col gap-1 text-sm">
          Email or pseudonym
          <input
            type="search"
            className="h-10 w-72 max-w-full rounded-xl border border-border bg-background px-3"
            value={q}
            maxLength={200}
            onChange={(e) => setQ(e.target.value)}
          />
        </label>
        <Button size="sm" type="submit">
          Search
        </Button>
      </form>
      {people.isPending ? (
        <Loading what="people" />
      ) : people.isError ? (
        <Alert>{problem(people.error)}</Alert>
      ) : people.data.length === 0 ? (
        <Empty>Nobody matches.</Empty>
      ) : (
        <ul className="flex flex-col gap-3">
          {people.data.map((person) => (
            <PersonRow key={person.id} person={person} />
          ))}
        </ul>
      )}
    </div>
  );
}

function Rooms() {
  const rooms = useQuery({ queryKey: ["admin", "rooms"], queryFn: listLiveRooms });
  const { run, error, busy } = useAction();
  if (rooms.isPending) return <Loading what="rooms" />;
  if (rooms.isError) return <Alert>{problem(rooms.error)}</Alert>;
  if (rooms.data.length === 0) return <Empty>No room is live.</Empty>;
  return (
    <div className="flex flex-col gap-3">
      {error ? <Alert>{error}</Alert> : null}
      <ul className="flex flex-col gap-3">
        {rooms.data.map((room) => (
          <li
            key={room.id}
            className="flex flex-wrap items-center justify-between gap-2 rounded-2xl border border-border p-4"
            data-testid="live-room"
          >
            <span>
              <span className="font-medium">{room.title}</span>
              <span className="text-muted-foreground">
                {" "}
                · {room.visibility} · {room.participant_count} in the room
              </span>
            </span>
            <Button
              size="sm"
              variant="accent"
              disabled={busy}
              onClick={() =>
                void run(
                  () => endRoom(room.id),
                  [
                    ["admin", "rooms"],
                    ["admin", "audit"],
                  ],
                )
              }
            >
              End {room.title}
            </Button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Jobs() {
  const jobs = useQuery({ queryKey: ["admin", "jobs"], queryFn: listDeadJobs });
  const { run, error, busy } = useAction();
  if (jobs.isPending) return <Loading what="dead jobs" />;
  if (jobs.isError) return <Alert>{problem(jobs.error)}</Alert>;
  if (jobs.data.length === 0)
    return <Empty>No dead jobs: every background job finished or is still trying.</Empty>;
  return (
    <div className="flex flex-col gap-3">
      {error ? <Alert>{error}</Alert> : null}
      <ul className="flex flex-col gap-3">
        {jobs.data.map((job) => (
          <li key={job.id} className="flex flex-col gap-2 rounded-2xl border border-border p-4">
            <p className="text-sm">
              <span className="font-medium">{job.queue}</span> · {job.attempts} attempts ·{" "}
              <span className="text-muted-foreground">{job.last_error ?? "no error recorded"}</span>
            </p>
            <Button
              size="sm"
              variant="outline"
              className="self-start"
              disabled={busy}
              onClick={() =>
                void run(
                  () => retryJob(job.id, job.queue),
                  [
                    ["admin", "jobs"],
                    ["admin", "audit"],
                  ],
                )
              }
            >
              Retry
            </Button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function Audit() {
  const audit = useQuery({ queryKey: ["admin", "audit"], queryFn: listAudit });
  if (audit.isPending) return <Loading what="the audit log" />;
  if (audit.isError) return <Alert>{problem(audit.error)}</Alert>;
  if (audit.data.length === 0) return <Empty>No administrator has acted yet.</Empty>;
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm" data-testid="audit-log">
        <thead>
          <tr className="border-b border-border">
            <th className="py-2 pr-4">When</th>
            <th className="py-2 pr-4">Who</th>
            <th className="py-2 pr-4">What</th>
            <th className="py-2 pr-4">Detail</th>
          </tr>
        </thead>
        <tbody>
          {audit.data.map((entry) => (
            <tr key={entry.id} className="border-b border-border/60">
              <td className="py-2 pr-4 whitespace-nowrap">{when(entry.at)}</td>
              <td className="py-2 pr-4">{entry.actor ?? "a removed administrator"}</td>
              <td className="py-2 pr-4">{entry.action}</td>
              <td className="py-2 pr-4 break-words">{entry.detail ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The admin console: administrators only; everyone else is told so. */
export function AdminConsole() {
  const { user } = useUser();
  const [tab, setTab] = useState<Tab>("overview");
  if (user?.role !== "admin") {
    return (
      <div className="mx-auto w-full max-w-2xl px-6 py-12">
        <Alert>Only administrators can open the admin console.</Alert>
      </div>
    );
  }
  const panels: Record<Tab, ReactNode> = {
    overview: <Overview />,
    reports: <Reports />,
    people: <People />,
    rooms: <Rooms />,
    jobs: <Jobs />,
    audit: <Audit />,
  };
  return (
    <div className="mx-auto flex w-full max-w-6xl flex-col gap-6 px-4 py-10 sm:px-6">
      <h1 className="text-3xl font-semibold tracking-tight">Admin console</h1>
      <div role="tablist" aria-label="Admin sections" className="flex flex-wrap gap-1">
        {tabs.map((t) => (
          <button
            key={t.id}
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            className="rounded-full px-4 py-2 text-sm font-medium aria-selected:bg-primary aria-selected:text-primary-foreground hover:bg-muted aria-selected:hover:bg-primary/90 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring"
            onClick={() => setTab(t.id)}
            onKeyDown={(event) => {
              const index = tabs.findIndex((x) => x.id === tab);
              const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
              if (step === 0) return;
              const next = tabs[(index + step + tabs.length) % tabs.length]!;
              setTab(next.id);
              document.getElementById(`tab-${next.id}`)?.focus();
            }}
          >
            {t.label}
          </button>
        ))}
      </div>
      <section role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {panels[tab]}
      </section>
    </div>
  );
}
