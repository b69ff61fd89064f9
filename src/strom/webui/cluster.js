// The cluster pages: TaskManagers (list; detail with slots, memory and CPU metrics, log and
// stdout), the JobManager (configuration, log, stdout, metrics) and web submit.

import { get, maybe, metrics, request } from "./api.js";
import { go, ui } from "./app.js";
import { bytes, h, keyValues, table, textViewer, time } from "./dom.js";

// strom's process metrics (they replace Flink's Status.JVM.*)
const PROCESS_METRICS = ["Status.Process.CPU.Load", "Status.Process.CPU.Time",
  "Status.Process.Memory.RSS", "Status.Process.Memory.VMS", "Status.Process.Threads.Count",
  "Status.Python.GC.Count"];

function processMetrics(values) {
  const v = (name) => values[name];
  const load = v("Status.Process.CPU.Load");
  return keyValues([
    ["CPU Load", load === null || load === undefined ? null : `${(load * 100).toFixed(1)}%`],
    ["CPU Time", v("Status.Process.CPU.Time") === undefined ? null
      : `${v("Status.Process.CPU.Time")} ms`],
    ["Memory (RSS)", v("Status.Process.Memory.RSS") === undefined ? null
      : bytes(v("Status.Process.Memory.RSS"))],
    ["Memory (VMS)", v("Status.Process.Memory.VMS") === undefined ? null
      : bytes(v("Status.Process.Memory.VMS"))],
    ["Threads", v("Status.Process.Threads.Count")],
    ["Python GC Collections", v("Status.Python.GC.Count")],
  ], { id: "process-metrics" });
}

export function taskManagersPage() {
  const list = h("div", { id: "taskmanagers" });
  return {
    el: h("div", {}, h("h1", {}, "Task Managers"), list),
    async refresh() {
      const answer = await get("/taskmanagers");
      list.replaceChildren(table([
        ["ID", (t) => t.id],
        ["Address", (t) => t.path],
        ["Data Port", (t) => (t.dataPort > 0 ? t.dataPort : "–")],
        ["Last Heartbeat", (t) => (t.timeSinceLastHeartbeat > 1e12
          ? time(t.timeSinceLastHeartbeat) : `${t.timeSinceLastHeartbeat} ms ago`)],
        ["All Slots", (t) => t.slotsNumber],
        ["Free Slots", (t) => t.freeSlots],
        ["CPU Cores", (t) => (t.hardware || {}).cpuCores ?? "–"],
        ["Physical Memory", (t) => bytes((t.hardware || {}).physicalMemory)],
      ], answer.taskmanagers, {
        onClick: (t) => go(`#/taskmanagers/${encodeURIComponent(t.id)}`),
        empty: "No TaskManagers are registered.", id: "taskmanagers-table",
      }));
    },
  };
}

export function taskManagerPage(id, rest) {
  const tab = rest[0] || "metrics";
  const base = `/taskmanagers/${encodeURIComponent(id)}`;
  const summary = h("div", { id: "taskmanager-summary" });
  const content = h("div");
  const tabs = h("div", { class: "tabs" },
    [["metrics", "Metrics"], ["log", "Logs"], ["stdout", "Stdout"]].map(([t, label]) =>
      h("a", { href: `#/taskmanagers/${encodeURIComponent(id)}/${t}`, id: `tm-tab-${t}`,
        class: t === tab ? "active" : undefined }, label)));
  const el = h("div", {}, h("h1", {}, `Task Manager ${id}`), summary, tabs, content);
  if (tab === "log") content.replaceChildren(textViewer("Log", () => get(`${base}/log`, { text: true }), "tm-log"));
  if (tab === "stdout") {
    content.replaceChildren(textViewer("Stdout", () => get(`${base}/stdout`, { text: true }),
      "tm-stdout"));
  }
  return {
    el,
    async refresh() {
      const details = await maybe(base);
      const listed = details || ((await get("/taskmanagers")).taskmanagers || [])
        .find((t) => t.id === id);
      if (!listed) throw new Error(`TaskManager ${id} is not registered (any more)`);
      const hw = listed.hardware || {};
      summary.replaceChildren(h("div", { class: "card" }, keyValues([
        ["Address", listed.path],
        ["Slots", `${listed.slotsNumber} (${listed.freeSlots} free)`],
        ["CPU Cores", hw.cpuCores],
        ["Physical Memory", hw.physicalMemory === undefined ? null : bytes(hw.physicalMemory)],
        ["Free Memory", hw.freeMemory === undefined ? null : bytes(hw.freeMemory)],
      ])), h("h2", {}, "Slots"), table([
        ["Slot", (s) => s.index ?? "–"],
        ["Job", (s) => s.jobId || "–"],
      ], listed.allocatedSlots || [], { empty: "No allocated slots (or not reported).",
        id: "taskmanager-slots" }));
      if (tab === "metrics") {
        content.replaceChildren(processMetrics(await metrics(`${base}/metrics`,
          PROCESS_METRICS)));
      }
    },
  };
}

export function jobManagerPage(tab = "config") {
  const content = h("div");
  const tabs = h("div", { class: "tabs" },
    [["config", "Configuration"], ["metrics", "Metrics"], ["log", "Logs"], ["stdout", "Stdout"]]
      .map(([t, label]) => h("a", { href: `#/jobmanager/${t}`, id: `jm-tab-${t}`,
        class: t === tab ? "active" : undefined }, label)));
  const el = h("div", {}, h("h1", {}, "Job Manager"), tabs, content);
  if (tab === "log") {
    content.replaceChildren(textViewer("Log", () => get("/jobmanager/log", { text: true }),
      "jm-log"));
  }
  if (tab === "stdout") {
    content.replaceChildren(textViewer("Stdout", () => get("/jobmanager/stdout", { text: true }),
      "jm-stdout"));
  }
  let configShown = false;
  return {
    el,
    async refresh() {
      if (tab === "config" && !configShown) {
        const config = await get("/jobmanager/config");
        content.replaceChildren(keyValues(config.map((e) => [e.key, e.value]),
          { id: "jobmanager-config" }));
        configShown = true;
      } else if (tab === "metrics") {
        const values = await metrics("/jobmanager/metrics",
          [...PROCESS_METRICS, "numRegisteredTaskManagers", "numRunningJobs",
            "taskSlotsAvailable", "taskSlotsTotal"]);
        content.replaceChildren(processMetrics(values), h("h2", {}, "Cluster"), keyValues([
          ["Registered TaskManagers", values.numRegisteredTaskManagers],
          ["Running Jobs", values.numRunningJobs],
          ["Task Slots Available", values.taskSlotsAvailable],
          ["Task Slots Total", values.taskSlotsTotal],
        ]));
      }
    },
  };
}

export function submitPage() {
  const list = h("div", { id: "jars" });
  const note = h("div", { class: "banner info", id: "submit-message", hidden: true });
  const file = h("input", { type: "file", accept: ".py", id: "upload-file" });
  let shownIds = null;
  const say = (text, kind = "info") => {
    note.hidden = false;
    note.className = `banner ${kind}`;
    note.textContent = text;
  };
  const page = {
    el: h("div", {}, h("h1", {}, "Submit New Job"), note,
      h("div", { class: "card" },
        h("p", {}, "Upload a Python job file; it runs as 'strom run -d' would, against this " +
          "cluster."),
        file, " ",
        h("button", { class: "primary", id: "upload-button", onclick: async () => {
          if (!file.files.length) return say("Choose a .py file first.", "error");
          const form = new FormData();
          form.append("jarfile", file.files[0]);
          try {
            await request("/jars/upload", { method: "POST", form });
            say(`Uploaded ${file.files[0].name}.`);
            file.value = "";
            await page.refresh();
          } catch (e) {
            say(`Upload failed: ${e.message}`, "error");
          }
        } }, "Upload")),
      h("h2", {}, "Uploaded Job Files"), list),
    async refresh() {
      const jars = await get("/jars");
      // re-drawn only when the files change: the user may be typing arguments
      const ids = jars.files.map((f) => f.id).join(",");
      if (ids === shownIds) return;
      shownIds = ids;
      list.replaceChildren(jars.files.length ? h("div", {}, jars.files.map((f) => runCard(f)))
        : h("p", { class: "message" }, "No job files uploaded."));
    },
  };
  function runCard(f) {
    const args = h("input", { type: "text", placeholder: "program arguments",
      class: "program-args" });
    const parallelism = h("input", { type: "number", min: 1, placeholder: "default",
      class: "parallelism" });
    const savepoint = h("input", { type: "text", placeholder: "savepoint path (optional)",
      class: "savepoint-path" });
    const run = h("button", { class: "primary run-jar", onclick: async () => {
      run.disabled = true;
      say(`Running ${f.name}…`);
      const body = { programArgsList: splitArgs(args.value) };
      if (parallelism.value) body.parallelism = Number(parallelism.value);
      if (savepoint.value.trim()) body.savepointPath = savepoint.value.trim();
      try {
        const answer = await request(`/jars/${encodeURIComponent(f.id)}/run`,
          { method: "POST", body });
        say(`Submitted job ${answer.jobid}.`);
        go(`#/jobs/${answer.jobid}`);
      } catch (e) {
        say(`Running ${f.name} failed: ${e.errors ? e.errors.join("\n") : e.message}`, "error");
      } finally {
        run.disabled = false;
      }
    } }, "Submit");
    const remove = h("button", { class: "danger", onclick: async () => {
      if (!window.confirm(`Delete ${f.name}?`)) return;
      try {
        await request(`/jars/${encodeURIComponent(f.id)}`, { method: "DELETE" });
        await page.refresh();
      } catch (e) {
        say(`Delete failed: ${e.message}`, "error");
      }
    } }, "Delete");
    return h("form", { class: "card submit", "data-jar-id": f.id,
      onsubmit: (e) => e.preventDefault() },
      h("div", { class: "header" }, h("strong", {}, f.name),
        h("span", { class: "times" }, `uploaded ${time(f.uploaded)}`),
        h("div", { class: "actions" }, run, remove)),
      h("label", {}, "Program arguments"), args,
      h("label", {}, "Parallelism"), parallelism,
      h("label", {}, "Savepoint path"), savepoint);
  }
  if (!ui.config.features["web-submit"]) {
    return { el: h("div", {}, h("h1", {}, "Submit New Job"), h("p", { class: "message" },
      "Web submit is disabled on this cluster (web.submit.enable: false).")),
    async refresh() {} };
  }
  return page;
}

// "a 'b c' d" → ["a", "b c", "d"]
function splitArgs(text) {
  const args = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let match;
  while ((match = re.exec(text)) !== null) args.push(match[1] ?? match[2] ?? match[3]);
  return args;
}
