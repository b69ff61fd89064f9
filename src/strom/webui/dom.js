// Small DOM helpers: elements built from data (text is always set as text, never as HTML),
// tables, key/value tables and formatting of times, durations and sizes.

export function h(tag, attributes = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attributes || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    e.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return e;
}

export function status(state) {
  return h("span", { class: `status ${state}` }, state);
}

// columns: [[heading, row => cell]]; onClick(row) makes rows links
export function table(columns, rows, { onClick, empty = "Nothing to show.", id } = {}) {
  if (!rows || rows.length === 0) return h("p", { class: "message", id }, empty);
  return h("table", { id },
    h("thead", {}, h("tr", {}, columns.map(([heading]) => h("th", {}, heading)))),
    h("tbody", {}, rows.map((row) => h("tr", {
      class: onClick ? "link" : undefined,
      onclick: onClick ? () => onClick(row) : undefined,
    }, columns.map(([, cell]) => h("td", {}, cell(row)))))));
}

export function keyValues(entries, { id } = {}) {
  return h("table", { class: "kv", id }, h("tbody", {}, entries.map(([k, v]) =>
    h("tr", {}, h("td", {}, k), h("td", {}, v === null || v === undefined ? "–" : v)))));
}

export function time(ms) {
  if (ms === null || ms === undefined || ms < 0) return "–";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "–";
  if (ms < 1000) return `${ms}ms`;
  let s = Math.floor(ms / 1000);
  const parts = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]]) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.slice(0, 2).join(" ");
}

export function bytes(n) {
  if (n === null || n === undefined || n < 0 || Number.isNaN(Number(n))) return "–";
  n = Number(n);
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function percent(x) {
  return x === null || x === undefined || Number.isNaN(x) ? "N/A" : `${Math.round(x)}%`;
}

// a <pre> with a reload button, filled by load() (a log or stdout viewer)
export function textViewer(title, load, id) {
  const pre = h("pre", { id }, "Loading…");
  const fill = async () => {
    pre.textContent = "Loading…";
    try {
      const text = await load();
      pre.textContent = text === "" ? "(empty)" : text;
      pre.scrollTop = pre.scrollHeight;
    } catch (e) {
      pre.textContent = `Could not load the ${title.toLowerCase()}: ${e.message}`;
    }
  };
  fill();
  return h("div", { class: "card" },
    h("div", { class: "header" }, h("h2", {}, title),
      h("div", { class: "actions" }, h("button", { onclick: fill }, "Reload"))),
    pre);
}
