// The job page: a header (status, times, cancel and savepoint), tabs for the graph,
// exceptions, checkpoints and configuration, and under the graph the selected vertex's
// subtasks, back pressure and flame graph.
//
// #/jobs/<jid>[/<tab>] with tab graph | exceptions | checkpoints | configuration;
// #/jobs/<jid>/vertices/<vid>[/subtasks|flamegraph] opens a vertex under the graph.

import { get, maybe, metrics, request } from "./api.js";
import { go, refreshNow, ui } from "./app.js";
import { bytes, duration, h, keyValues, percent, status, table, time } from "./dom.js";
import { formatCount, formatWatermark, renderGraph } from "./graph.js";

const TERMINAL = new Set(["FINISHED", "FAILED", "CANCELED", "SUSPENDED"]);
const TABS = [["graph", "Overview"], ["exceptions", "Exceptions"],
  ["checkpoints", "Checkpoints"], ["configuration", "Configuration"]];

// the vertex's busy and back-pressured share (percent, max over subtasks) and low watermark
async function vertexLoad(jid, vid) {
  const base = `/jobs/${jid}/vertices/${vid}`;
  const [load, watermarks] = await Promise.all([
    metrics(`${base}/subtasks/metrics`, ["busyTimeMsPerSecond", "backPressuredTimeMsPerSecond"],
      "max"),
    maybe(`${base}/watermarks`),
  ]);
  const pct = (ms) => (ms === null || ms === undefined || Number.isNaN(Number(ms))
    ? null : Number(ms) / 10);
  let watermark = null;
  for (const w of watermarks || []) {
    if (!String(w.id).endsWith("currentInputWatermark")) continue;
    const value = Number(w.value);
    watermark = watermark === null ? value : Math.min(watermark, value);
  }
  return {
    busy: pct(load.busyTimeMsPerSecond),
    backPressured: pct(load.backPressuredTimeMsPerSecond),
    watermark,
  };
}

async function graphVertices(job) {
  const plan = job.plan || (await maybe(`/jobs/${job.jid}/plan`) || {}).plan;
  job.hasPlan = Boolean(plan && plan.nodes);
  const nodes = new Map(((plan && plan.nodes) || []).map((n) => [n.id, n]));
  const running = job.state === "RUNNING";
  return Promise.all(job.vertices.map(async (v) => {
    const node = nodes.get(v.id) || {};
    const inputs = (node.inputs || []).map((i) => i.id);
    const ship = Object.fromEntries((node.inputs || []).map((i) => [i.id, i.ship_strategy]));
    const m = v.metrics || {};
    const load = running ? await vertexLoad(job.jid, v.id)
      : { busy: null, backPressured: null, watermark: null };
    return {
      id: v.id, name: v.name, parallelism: v.parallelism, inputs, ship,
      readRecords: m["read-records"], writeRecords: m["write-records"], ...load,
    };
  }));
}

function header(job, actions) {
  return h("div", { class: "card" },
    h("div", { class: "header" },
      h("h1", { id: "job-name" }, job.name), h("span", { id: "job-state" }, status(job.state)),
      h("span", { class: "times" },
        `ID ${job.jid} · started ${time(job["start-time"])} · ` +
        (job["end-time"] > 0 ? `ended ${time(job["end-time"])} · ` : "") +
        `duration ${duration(job.duration)}`),
      actions));
}

function jobActions(job, message) {
  const done = TERMINAL.has(job.state);
  const cancel = h("button", {
    class: "danger", id: "cancel-job", disabled: done || !ui.config.features["web-cancel"],
    onclick: async () => {
      if (!window.confirm(`Cancel job ${job.name} (${job.jid})?`)) return;
      try {
        await request(`/jobs/${job.jid}?mode=cancel`, { method: "PATCH" });
        message(`Cancelling job ${job.jid}.`, "info");
        refreshNow();
      } catch (e) {
        message(`Cancel failed: ${e.message}`);
      }
    },
  }, "Cancel Job");
  const savepoint = h("button", {
    id: "trigger-savepoint", disabled: done,
    onclick: async () => {
      const target = window.prompt(
        "Trigger a savepoint. Target directory (empty: state.savepoints.dir):", "");
      if (target === null) return;
      savepoint.disabled = true;
      try {
        const body = { "cancel-job": false };
        if (target.trim()) body["target-directory"] = target.trim();
        const trigger = await request(`/jobs/${job.jid}/savepoints`, { method: "POST", body });
        message("Savepoint triggered; waiting for it to complete…", "info");
        await pollSavepoint(job.jid, trigger["request-id"], message);
      } catch (e) {
        message(`Savepoint failed: ${e.message}`);
      } finally {
        savepoint.disabled = false;
      }
    },
  }, "Trigger Savepoint");
  return h("div", { class: "actions" }, savepoint, cancel);
}

async function pollSavepoint(jid, triggerId, message) {
  for (;;) {
    const answer = await get(`/jobs/${jid}/savepoints/${triggerId}`);
    if (answer.status.id === "COMPLETED") {
      const op = answer.operation || {};
      if (op["failure-cause"]) {
        const cause = op["failure-cause"];
        message(`Savepoint failed: ${cause["stack-trace"] || cause.class || "unknown cause"}`);
      } else {
        message(`Savepoint completed: ${op.location}`, "info", "savepoint-location");
      }
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function subtasksTable(subtasks, backpressure) {
  const ratios = new Map(((backpressure || {}).subtasks || []).map((s) => [s.subtask, s]));
  const pct = (x) => (x === undefined || x === null ? null : x * 100);
  return table([
    ["#", (s) => s.subtask],
    ["Status", (s) => status(s.status)],
    ["Records In", (s) => formatCount((s.metrics || {})["read-records"])],
    ["Records Out", (s) => formatCount((s.metrics || {})["write-records"])],
    ["Host", (s) => s.endpoint || s.host || "–"],
    ["TaskManager", (s) => s["taskmanager-id"] || "–"],
    ["Busy", (s) => percent(pct((ratios.get(s.subtask) || {}).busyRatio))],
    ["Backpressured", (s) => percent(pct((ratios.get(s.subtask) || {}).ratio))],
    ["Idle", (s) => percent(pct((ratios.get(s.subtask) || {}).idleRatio))],
    ["Duration", (s) => duration(s.duration)],
  ], subtasks, { empty: "No subtasks reported.", id: "subtasks-table" });
}

function vertexPanel(jid, vid, tab) {
  const body = h("div", { id: "vertex-body" });
  const title = h("h2", { id: "vertex-title" }, "Vertex");
  const tabs = h("div", { class: "tabs" },
    [["subtasks", "Subtasks"], ["flamegraph", "Flame Graph"]].map(([id, label]) =>
      h("a", { href: `#/jobs/${jid}/vertices/${vid}/${id}`, id: `vertex-tab-${id}`,
        class: id === tab ? "active" : undefined }, label)));
  const el = h("div", { class: "card panel", id: "vertex-panel" }, title, tabs, body);
  let flameType = "FULL";
  let shownFlame = null;
  let flameTarget = null;
  async function refresh() {
    try {
      await fill();
    } catch (e) {
      body.replaceChildren(h("p", { class: "error", id: "vertex-error" },
        `Could not load this vertex: ${e.message}`));
    }
  }
  async function fill() {
    const vertex = await maybe(`/jobs/${jid}/vertices/${vid}`);
    if (vertex) title.textContent = `${vertex.name} (parallelism ${vertex.parallelism})`;
    if (tab === "flamegraph") {
      const graph = window.stromFlameGraph;
      if (!graph) {
        body.replaceChildren(h("p", { class: "message", id: "flamegraph-message" },
          "flame graphs unavailable"));
        return;
      }
      const answer = await maybe(`/jobs/${jid}/vertices/${vid}/flamegraph?type=${flameType}`);
      // drawn again only when new samples are in: a zoomed-in graph stays as it is
      const key = `${flameType}:${answer ? answer.endTimestamp : "none"}`;
      if (key === shownFlame && body.contains(flameTarget)) return;
      shownFlame = key;
      const types = h("div", { class: "actions" }, ["FULL", "ON_CPU", "OFF_CPU"].map((t) =>
        h("button", { class: t === flameType ? "primary" : undefined,
          onclick: () => { flameType = t; refresh(); } }, t)));
      flameTarget = h("div", { class: "flamegraph", id: "flamegraph" });
      body.replaceChildren(types, flameTarget);
      if (!answer) {
        flameTarget.replaceChildren(h("p", { class: "message" }, "flame graphs unavailable"));
      } else {
        // flamegraph.js also says why there is no graph yet (sampling, disabled, ended)
        graph.render(flameTarget, answer);
      }
      return;
    }
    if (!vertex) await get(`/jobs/${jid}/vertices/${vid}`); // raises with the server's reason
    const backpressure = await maybe(`/jobs/${jid}/vertices/${vid}/backpressure`);
    body.replaceChildren(subtasksTable(vertex.subtasks || [], backpressure));
  }
  return { el, refresh };
}

function exceptionsView(exceptions) {
  const entries = ((exceptions || {}).exceptionHistory || {}).entries || [];
  if (!exceptions) return h("p", { class: "message" }, "Exceptions are not available.");
  if (!entries.length && !exceptions["root-exception"]) {
    return h("p", { class: "message", id: "no-exceptions" }, "No exceptions.");
  }
  const root = entries[0];
  return h("div", {},
    h("h2", {}, "Root Exception"),
    h("pre", { id: "root-exception" }, (root && root.stacktrace) || exceptions["root-exception"]),
    h("h2", {}, "Exception History"),
    entries.map((e) => h("details", { class: "card" },
      h("summary", {}, `${time(e.timestamp)} · ${e.exceptionName} · ${e.taskName || "(job)"}` +
        ` · ${e.endpoint || e.location || ""}`),
      h("pre", {}, e.stacktrace))));
}

function checkpointsView(stats, config) {
  if (!stats) {
    return h("p", { class: "message" },
      "No checkpoint statistics: the job takes no checkpoints (BATCH mode or not enabled).");
  }
  const c = stats.counts || {};
  const latest = stats.latest || {};
  const row = (label, x) => [label, x ? `#${x.id} at ${time(x.latest_ack_timestamp ||
    x.restore_timestamp || x.trigger_timestamp)}${x.external_path ? ` · ${x.external_path}` : ""}`
    : "None"];
  const stat = (label, value, id) => h("div", { class: "stat", id },
    h("div", { class: "label" }, label), h("div", { class: "value" }, value));
  return h("div", {},
    h("div", { class: "stats", id: "checkpoint-counts" },
      stat("Triggered", c.total ?? 0), stat("In Progress", c.in_progress ?? 0),
      stat("Completed", c.completed ?? 0, "checkpoints-completed"),
      stat("Failed", c.failed ?? 0), stat("Restored", c.restored ?? 0)),
    h("h2", {}, "Latest"),
    keyValues([row("Latest Completed Checkpoint", latest.completed),
      row("Latest Savepoint", latest.savepoint), row("Latest Failed Checkpoint", latest.failed),
      row("Latest Restore", latest.restored)]),
    h("h2", {}, "History"),
    table([
      ["ID", (x) => x.id],
      ["Status", (x) => status(x.status)],
      ["Type", (x) => (x.is_savepoint ? "Savepoint" : x.checkpoint_type || "Checkpoint")],
      ["Acknowledged", (x) => `${x.num_acknowledged_subtasks}/${x.num_subtasks}`],
      ["Trigger Time", (x) => time(x.trigger_timestamp)],
      ["Latest Acknowledgement", (x) => time(x.latest_ack_timestamp)],
      ["End to End Duration", (x) => duration(x.end_to_end_duration)],
      ["Checkpointed Data Size", (x) => bytes(x.checkpointed_size)],
      ["Full Checkpoint Data Size", (x) => bytes(x.state_size)],
    ], stats.history || [], { empty: "No checkpoints yet.", id: "checkpoint-history" }),
    h("h2", {}, "Configuration"),
    config ? keyValues([
      ["Checkpointing Mode", config.mode],
      ["Interval", duration(config.interval)],
      ["Timeout", duration(config.timeout)],
      ["Minimum Pause Between Checkpoints", duration(config.min_pause)],
      ["Maximum Concurrent Checkpoints", config.max_concurrent],
      ["Unaligned Checkpoints", String(config.unaligned_checkpoints)],
      ["State Backend", config.state_backend],
      ["Checkpoint Storage", config.checkpoint_storage],
      ["Tolerable Failed Checkpoints", config.tolerable_failed_checkpoints],
    ]) : h("p", { class: "message" }, "No checkpoint configuration."));
}

function configurationView(config) {
  if (!config) return h("p", { class: "message" }, "The job's configuration is not available.");
  const ec = config["execution-config"] || {};
  return h("div", {},
    keyValues([["Execution Mode", ec["execution-mode"]],
      ["Restart Strategy", ec["restart-strategy"]],
      ["Job Parallelism", ec["job-parallelism"]],
      ["Object Reuse Mode", String(ec["object-reuse-mode"])]], { id: "job-config" }),
    h("h2", {}, "User Configuration"),
    keyValues(Object.entries(ec["user-config"] || {})));
}

export function jobPage(jid, rest) {
  let tab = rest[0] || "graph";
  let vertexId = null;
  let vertexTab = "subtasks";
  if (tab === "vertices") {
    tab = "graph";
    vertexId = rest[1];
    vertexTab = rest[2] || "subtasks";
  }
  const top = h("div");
  const note = h("div", { class: "banner info", id: "job-message", hidden: true });
  const content = h("div", { id: `job-tab-${tab}` });
  const panel = vertexId ? vertexPanel(jid, vertexId, vertexTab) : null;
  const tabs = h("div", { class: "tabs" }, TABS.map(([id, label]) =>
    h("a", { href: `#/jobs/${jid}/${id}`, id: `tab-${id}`,
      class: id === tab ? "active" : undefined }, label)));
  const el = h("div", {}, top, note, tabs, content, panel && panel.el);
  function message(text, kind = "error", id) {
    note.hidden = false;
    note.className = `banner ${kind}`;
    note.replaceChildren(id ? h("span", { id }, text) : text);
  }
  let shownState = null;
  // a tab is drawn again only when its data changed: opened details stay open
  let shownData = null;
  function show(data, build) {
    const key = JSON.stringify(data);
    if (key === shownData) return;
    shownData = key;
    content.replaceChildren(build());
  }
  const graphBox = h("div", { class: "graph-box", id: "job-graph" });
  const graphNote = h("p", { class: "message", id: "no-plan", hidden: true },
    "This server does not report the job's plan, so the edges between the vertices are " +
    "not drawn.");
  return {
    el,
    async refresh() {
      const job = await get(`/jobs/${jid}`);
      if (job.state !== shownState) {
        top.replaceChildren(header(job, jobActions(job, message)));
        shownState = job.state;
      } else {
        top.querySelector(".times").textContent = header(job, "").querySelector(".times")
          .textContent;
      }
      if (tab === "graph") {
        const vertices = await graphVertices(job);
        if (!content.contains(graphBox)) content.replaceChildren(graphNote, graphBox);
        graphNote.hidden = job.hasPlan;
        renderGraph(graphBox, vertices, (vid) => go(`#/jobs/${jid}/vertices/${vid}`));
        if (panel) await panel.refresh();
      } else if (tab === "exceptions") {
        const exceptions = await maybe(`/jobs/${jid}/exceptions`);
        show([exceptions], () => exceptionsView(exceptions));
      } else if (tab === "checkpoints") {
        const [stats, config] = await Promise.all([maybe(`/jobs/${jid}/checkpoints`),
          maybe(`/jobs/${jid}/checkpoints/config`)]);
        show([stats, config], () => checkpointsView(stats, config));
      } else if (tab === "configuration") {
        const config = await maybe(`/jobs/${jid}/config`);
        show([config], () => configurationView(config));
      }
    },
  };
}
