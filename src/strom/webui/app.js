// The web UI's shell: hash routing, the refresh loop (web.refresh-interval from /config),
// and the overview and job list pages. The other pages live in job.js and cluster.js.
//
// A page is {el, refresh()}: mount() builds it once, refresh() fills it with fresh data
// every refresh interval. A failed refresh shows a message and the loop goes on.

import { get, maybe } from "./api.js";
import { h, status, table, time, duration } from "./dom.js";
import { jobPage } from "./job.js";
import { jobManagerPage, submitPage, taskManagerPage, taskManagersPage } from "./cluster.js";

export const ui = {
  // Flink's DashboardConfiguration; the defaults until /config answers
  config: { "refresh-interval": 3000, features: { "web-submit": false, "web-cancel": true } },
};

function banner(message, kind = "error") {
  const b = document.getElementById("banner");
  b.hidden = !message;
  b.className = `banner ${kind}`;
  b.textContent = message || "";
}

export function go(hash) {
  window.location.hash = hash;
}

function jobsTable(jobs, empty, id) {
  return table([
    ["Job Name", (j) => j.name],
    ["Start Time", (j) => time(j["start-time"])],
    ["Duration", (j) => duration(j.duration)],
    ["End Time", (j) => time(j["end-time"])],
    ["Tasks", (j) => `${(j.tasks || {}).running ?? 0} / ${(j.tasks || {}).total ?? 0}`],
    ["Status", (j) => status(j.state)],
  ], jobs, { onClick: (j) => go(`#/jobs/${j.jid}`), empty, id });
}

const TERMINAL = new Set(["FINISHED", "FAILED", "CANCELED", "SUSPENDED"]);

function splitJobs(overview) {
  const jobs = (overview && overview.jobs) || [];
  jobs.sort((a, b) => b["start-time"] - a["start-time"]);
  return {
    running: jobs.filter((j) => !TERMINAL.has(j.state)),
    completed: jobs.filter((j) => TERMINAL.has(j.state)),
  };
}

function overviewPage() {
  const stats = h("div", { class: "stats", id: "overview-stats" });
  const running = h("div", { id: "running-jobs" });
  const completed = h("div", { id: "completed-jobs" });
  const tms = h("div", { id: "overview-taskmanagers" });
  const el = h("div", {}, h("h1", {}, "Overview"), stats,
    h("h2", {}, "Running Jobs"), running, h("h2", {}, "Completed Jobs"), completed,
    h("h2", {}, "Task Managers"), tms);
  const stat = (label, value, id) => h("div", { class: "stat", id },
    h("div", { class: "label" }, label), h("div", { class: "value" }, value));
  return {
    el,
    async refresh() {
      const [o, jobs, taskmanagers] = await Promise.all(
        [get("/overview"), get("/jobs/overview"), maybe("/taskmanagers")]);
      stats.replaceChildren(
        stat("Task Managers", o.taskmanagers, "stat-taskmanagers"),
        stat("Total Task Slots", o["slots-total"], "stat-slots-total"),
        stat("Available Task Slots", o["slots-available"], "stat-slots-available"),
        stat("Running Jobs", o["jobs-running"], "stat-jobs-running"),
        stat("Finished", o["jobs-finished"], "stat-jobs-finished"),
        stat("Canceled", o["jobs-cancelled"], "stat-jobs-cancelled"),
        stat("Failed", o["jobs-failed"], "stat-jobs-failed"));
      const split = splitJobs(jobs);
      running.replaceChildren(jobsTable(split.running, "No running jobs.", "running-jobs-table"));
      completed.replaceChildren(
        jobsTable(split.completed, "No completed jobs.", "completed-jobs-table"));
      tms.replaceChildren(table([
        ["ID", (t) => t.id],
        ["Address", (t) => t.path],
        ["Slots", (t) => t.slotsNumber],
        ["Free Slots", (t) => t.freeSlots],
      ], (taskmanagers || {}).taskmanagers || [], {
        onClick: (t) => go(`#/taskmanagers/${encodeURIComponent(t.id)}`),
        empty: "No TaskManagers are registered.", id: "overview-taskmanagers-table",
      }));
    },
  };
}

function jobListPage() {
  const running = h("div");
  const completed = h("div");
  const el = h("div", {}, h("h1", {}, "Jobs"), h("h2", {}, "Running Jobs"), running,
    h("h2", {}, "Completed Jobs"), completed);
  return {
    el,
    async refresh() {
      const split = splitJobs(await get("/jobs/overview"));
      running.replaceChildren(jobsTable(split.running, "No running jobs.", "job-list-running"));
      completed.replaceChildren(
        jobsTable(split.completed, "No completed jobs.", "job-list-completed"));
    },
  };
}

function notFoundPage(hash) {
  return { el: h("div", {}, h("h1", {}, "Not found"), h("p", {}, `No page at ${hash}.`)),
    async refresh() {} };
}

// #/jobs/<id>/<tab>/... → a page
function route(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  const [first = "overview", second, ...rest] = parts;
  switch (first) {
    case "overview": return ["overview", overviewPage()];
    case "jobs": return ["jobs", second ? jobPage(second, rest) : jobListPage()];
    case "taskmanagers":
      return ["taskmanagers", second ? taskManagerPage(second, rest) : taskManagersPage()];
    case "jobmanager": return ["jobmanager", jobManagerPage(second)];
    case "submit": return ["submit", submitPage()];
    default: return ["", notFoundPage(hash)];
  }
}

let current = null;
let timer = null;
let generation = 0;

async function refresh(page, mine) {
  try {
    await page.refresh();
    if (mine === generation) banner(null);
  } catch (e) {
    if (mine === generation) {
      banner(`Could not refresh this page: ${e.message}. Retrying every ` +
        `${ui.config["refresh-interval"] / 1000} s.`);
    }
  }
}

function schedule() {
  clearTimeout(timer);
  const mine = generation;
  timer = setTimeout(async () => {
    if (mine !== generation || !current) return;
    await refresh(current, mine);
    if (mine === generation) schedule();
  }, ui.config["refresh-interval"]);
}

function show() {
  generation++;
  if (current && current.dispose) current.dispose();
  const [name, page] = route(window.location.hash || "#/overview");
  current = page;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.page === name);
  }
  document.getElementById("page").replaceChildren(page.el);
  banner(null);
  const mine = generation;
  refresh(page, mine).then(() => { if (mine === generation) schedule(); });
}

// re-render the current page now (after an action), keeping the refresh loop going
export function refreshNow() {
  if (current) refresh(current, generation);
}

export async function start() {
  const config = await maybe("/config");
  if (config) {
    ui.config = { ...ui.config, ...config,
      features: { ...ui.config.features, ...(config.features || {}) } };
  } else {
    // no /config on this server: web submit is on when its endpoints answer
    ui.config.features["web-submit"] = (await maybe("/jars")) !== null;
  }
  const interval = Number(ui.config["refresh-interval"]);
  ui.config["refresh-interval"] = interval > 0 ? interval : 3000;
  document.getElementById("nav-submit").hidden = !ui.config.features["web-submit"];
  const version = config ? config["flink-version"] : null;
  document.getElementById("version").textContent = version ? `strom ${version}` : "";
  window.addEventListener("hashchange", show);
  show();
}

start();
