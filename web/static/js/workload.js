// The staff panel's workload table, live: every change on a team's stream refetches
// that team's utilization for the week shown.

import { sharedClient } from "./cflows.js";

const table = document.querySelector("[data-workload-from]");
if (table) {
  const from = table.dataset.workloadFrom;
  const to = table.dataset.workloadTo;
  const client = sharedClient({ onStatus: (s) => (document.body.dataset.live = s) });
  const pct = (p) =>
    p.capacity_minutes === 0
      ? "closed"
      : `${Math.round(p.utilization * 100)}% (${Math.round((100 * p.held_minutes) / p.capacity_minutes)}% held)`;
  const timers = new Map();
  async function refresh(team) {
    const row = table.querySelector(`tr[data-workload-team="${team}"]`);
    const resp = await fetch(`/api/v1/teams/${team}/workload?from=${from}&to=${to}`, { credentials: "same-origin" });
    if (!resp.ok || !row) return;
    const w = await resp.json();
    for (const d of w.days) {
      const cell = row.querySelector(`td[data-day="${d.period}"]`);
      if (cell) cell.textContent = pct(d);
    }
    const week = row.querySelector("td[data-week]");
    if (week && w.weeks[0]) week.textContent = pct(w.weeks[0]);
    row.dataset.refreshed = String(Date.now());
  }
  for (const row of table.querySelectorAll("tr[data-workload-team]")) {
    const team = row.dataset.workloadTeam;
    client.subscribe(`team:${team}`, {
      onEvent: () => {
        clearTimeout(timers.get(team));
        timers.set(team, setTimeout(() => refresh(team), 200));
      },
    });
  }
}
