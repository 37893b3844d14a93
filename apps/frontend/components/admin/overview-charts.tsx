"use client";

import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";

import type { AdminOverview } from "@/lib/api";

type Series = { key: keyof AdminOverview["days"][number]; label: string; color: string };

const chartColors = {
  primary: "var(--primary)",
  accent: "var(--accent)",
  danger: "var(--danger)",
  muted: "var(--muted-foreground)",
};

/** A chart with its numbers as a table for screen readers (and anyone who prefers one). */
function Figure({
  title,
  days,
  series,
  kind,
}: {
  title: string;
  days: AdminOverview["days"];
  series: Series[];
  kind: "line" | "bar";
}) {
  const data = days.map((d) => ({ ...d, label: d.date.slice(5) }));
  const chart =
    kind === "line" ? (
      <LineChart data={data}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
        <XAxis dataKey="label" fontSize={12} />
        <YAxis allowDecimals={false} fontSize={12} width={32} />
        <Tooltip />
        <Legend />
        {series.map((s) => (
          <Line
            key={s.key}
            type="monotone"
            dataKey={s.key}
            name={s.label}
            stroke={s.color}
            strokeWidth={2}
            dot={false}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    ) : (
      <BarChart data={data}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
        <XAxis dataKey="label" fontSize={12} />
        <YAxis allowDecimals={false} fontSize={12} width={32} />
        <Tooltip />
        <Legend />
        {series.map((s) => (
          <Bar
            key={s.key}
            dataKey={s.key}
            name={s.label}
            fill={s.color}
            stackId={series.length > 1 && s.key.startsWith("crisis") ? "crisis" : undefined}
            isAnimationActive={false}
          />
        ))}
      </BarChart>
    );
  return (
    <figure
      className="flex flex-col gap-2 rounded-2xl border border-border p-4"
      data-testid="chart"
    >
      <figcaption className="font-medium">{title}</figcaption>
      <div className="h-56 w-full" aria-hidden="true">
        <ResponsiveContainer width="100%" height="100%">
          {chart}
        </ResponsiveContainer>
      </div>
      <table className="sr-only">
        <caption>{title}, by day</caption>
        <thead>
          <tr>
            <th scope="col">Day</th>
            {series.map((s) => (
              <th key={s.key} scope="col">
                {s.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {days.map((d) => (
            <tr key={d.date}>
              <th scope="row">{d.date}</th>
              {series.map((s) => (
                <td key={s.key}>{String(d[s.key])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function Funnel({ funnel }: { funnel: AdminOverview["funnels"][number] }) {
  const first = funnel.steps[0]?.visits ?? 0;
  return (
    <figure className="flex flex-col gap-3 rounded-2xl border border-border p-4">
      <figcaption className="font-medium">
        {funnel.name === "chat" ? "Chat funnel" : "Rooms funnel"}
      </figcaption>
      <ol className="flex flex-col gap-2" data-testid={`funnel-${funnel.name}`}>
        {funnel.steps.map((step) => {
          const share = first > 0 ? Math.round((step.visits / first) * 100) : 0;
          return (
            <li key={step.name} className="flex flex-col gap-1 text-sm">
              <span className="flex justify-between gap-2">
                <span>{step.name}</span>
                <span className="tabular-nums" data-testid="funnel-visits">
                  {step.visits} visits{first > 0 ? ` · ${share}%` : ""}
                </span>
              </span>
              <span className="h-2 rounded-full bg-muted" aria-hidden="true">
                <span
                  className="block h-2 rounded-full bg-primary"
                  style={{ width: `${share}%` }}
                />
              </span>
            </li>
          );
        })}
      </ol>
    </figure>
  );
}

export function OverviewCharts({ overview }: { overview: AdminOverview }) {
  const days = overview.days;
  return (
    <div className="grid grid-cols-1 gap-4 lg:grid-cols-2">
      <Figure
        title="People and chats"
        kind="line"
        days={days}
        series={[
          { key: "active_people", label: "People active", color: chartColors.primary },
          { key: "chats_started", label: "Chats started", color: chartColors.accent },
        ]}
      />
      <Figure
        title="Crisis flags by severity"
        kind="bar"
        days={days}
        series={[
          { key: "crisis_elevated", label: "Elevated", color: chartColors.accent },
          { key: "crisis_imminent", label: "Imminent", color: chartColors.danger },
        ]}
      />
      <Figure
        title="Rooms opened and minutes spoken"
        kind="bar"
        days={days}
        series={[
          { key: "rooms_opened", label: "Rooms opened", color: chartColors.primary },
          { key: "minutes_spoken", label: "Minutes spoken", color: chartColors.muted },
        ]}
      />
      <div className="grid grid-cols-1 gap-4">
        {overview.funnels.map((f) => (
          <Funnel key={f.name} funnel={f} />
        ))}
      </div>
    </div>
  );
}
