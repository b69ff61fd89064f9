// The job graph as an SVG DAG: a layered layout computed here (longest-path layers, then
// barycentre ordering within each layer), vertex boxes coloured as Flink's dashboard colours
// them (idle blue, blended towards red by the busy share, then towards grey by the
// back-pressured share).

const SVG = "http://www.w3.org/2000/svg";
const BOX_W = 240;
const BOX_H = 104;
const GAP_X = 70;
const GAP_Y = 36;
const PAD = 20;

// Flink's node colours: background and border, default / busy / back-pressured
const COLOURS = {
  background: { idle: "#5db1ff", busy: "#ee6464", backPressured: "#888888" },
  border: { idle: "#1890ff", busy: "#ee2222", backPressured: "#000000" },
};

function rgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function mix(from, to, share) {
  const a = rgb(from);
  const b = rgb(to);
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * share));
  return "#" + c.map((v) => v.toString(16).padStart(2, "0")).join("");
}

// busy and backPressured in percent (0..100, or null when unknown)
export function vertexColours(busy, backPressured) {
  const out = {};
  for (const part of ["background", "border"]) {
    let colour = COLOURS[part].idle;
    if (busy) colour = mix(colour, COLOURS[part].busy, Math.min(busy, 100) / 100);
    if (backPressured) {
      colour = mix(colour, COLOURS[part].backPressured, Math.min(backPressured, 100) / 100);
    }
    out[part] = colour;
  }
  return out;
}

// nodes: [{id, inputs: [id...]}] → {layers: [[id...]], position: id → {x, y}}
export function layout(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const layer = new Map();
  const visiting = new Set();
  function depth(id) {
    if (layer.has(id)) return layer.get(id);
    if (visiting.has(id)) return 0; // a cycle (not in a JobGraph): break it
    visiting.add(id);
    const inputs = (byId.get(id).inputs || []).filter((i) => byId.has(i));
    const d = inputs.length ? 1 + Math.max(...inputs.map(depth)) : 0;
    visiting.delete(id);
    layer.set(id, d);
    return d;
  }
  nodes.forEach((n) => depth(n.id));
  const layers = [];
  for (const n of nodes) {
    const d = layer.get(n.id);
    (layers[d] = layers[d] || []).push(n.id);
  }
  // barycentre ordering: a few sweeps down, each node placed at the mean order of its inputs
  const order = new Map();
  layers.forEach((ids) => ids.forEach((id, i) => order.set(id, i)));
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let d = 1; d < layers.length; d++) {
      const centre = (id) => {
        const inputs = (byId.get(id).inputs || []).filter((i) => order.has(i));
        if (!inputs.length) return order.get(id);
        return inputs.reduce((s, i) => s + order.get(i), 0) / inputs.length;
      };
      layers[d].sort((a, b) => centre(a) - centre(b) || order.get(a) - order.get(b));
      layers[d].forEach((id, i) => order.set(id, i));
    }
  }
  const tallest = Math.max(1, ...layers.map((ids) => ids.length));
  const position = new Map();
  layers.forEach((ids, d) => {
    const offset = ((tallest - ids.length) * (BOX_H + GAP_Y)) / 2;
    ids.forEach((id, i) => {
      position.set(id, { x: PAD + d * (BOX_W + GAP_X), y: PAD + offset + i * (BOX_H + GAP_Y) });
    });
  });
  return {
    layers,
    position,
    width: PAD * 2 + layers.length * BOX_W + Math.max(0, layers.length - 1) * GAP_X,
    height: PAD * 2 + tallest * BOX_H + (tallest - 1) * GAP_Y,
  };
}

function element(name, attributes, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function text(parent, x, y, content, cls) {
  const t = element("text", { x, y, class: cls }, parent);
  t.textContent = content;
  return t;
}

function shorten(s, n) {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

export function formatCount(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(n);
}

export function formatWatermark(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms) || ms <= -9.2e18) return "No Watermark";
  if (ms >= 9.2e18) return "MAX";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

// vertices: [{id, name, parallelism, inputs, readRecords, writeRecords, busy,
// backPressured, watermark, edges: [{from, ship}]}]; onClick(id) opens a vertex.
export function renderGraph(container, vertices, onClick) {
  const { position, width, height } = layout(vertices);
  container.innerHTML = "";
  const svg = element("svg", {
    width, height, viewBox: `0 0 ${width} ${height}`, class: "job-graph",
    "data-vertices": vertices.length,
  }, container);
  const defs = element("defs", {}, svg);
  const marker = element("marker", {
    id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7,
    orient: "auto-start-reverse",
  }, defs);
  element("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8c8c8c" }, marker);

  for (const v of vertices) {
    for (const input of v.inputs || []) {
      const from = position.get(input);
      const to = position.get(v.id);
      if (!from || !to) continue;
      const x1 = from.x + BOX_W;
      const y1 = from.y + BOX_H / 2;
      const x2 = to.x;
      const y2 = to.y + BOX_H / 2;
      const mid = (x1 + x2) / 2;
      const edge = element("path", {
        d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`,
        class: "edge", "marker-end": "url(#arrow)", "data-from": input, "data-to": v.id,
      }, svg);
      const ship = (v.ship || {})[input];
      if (ship) {
        element("title", {}, edge).textContent = ship;
        text(svg, mid, (y1 + y2) / 2 - 6, ship, "edge-label");
      }
    }
  }
  for (const v of vertices) {
    const p = position.get(v.id);
    const colours = vertexColours(v.busy, v.backPressured);
    const g = element("g", {
      class: "vertex", transform: `translate(${p.x},${p.y})`, "data-vertex-id": v.id,
      tabindex: 0,
    }, svg);
    element("rect", {
      width: BOX_W, height: BOX_H, rx: 6, fill: colours.background, stroke: colours.border,
      "stroke-width": 2,
    }, g);
    element("title", {}, g).textContent = v.name;
    text(g, 10, 20, shorten(v.name, 30), "vertex-name");
    text(g, 10, 38, `Parallelism: ${v.parallelism}`, "vertex-line");
    text(g, 10, 54, `Records in: ${formatCount(v.readRecords)}  out: ${formatCount(v.writeRecords)}`,
      "vertex-line vertex-records");
    const share = (x) => (x === null || x === undefined ? "N/A" : `${Math.round(x)}%`);
    text(g, 10, 70, `Busy: ${share(v.busy)}  Backpressured: ${share(v.backPressured)}`,
      "vertex-line vertex-busy");
    text(g, 10, 86, `Low watermark: ${formatWatermark(v.watermark)}`, "vertex-line vertex-watermark");
    g.addEventListener("click", () => onClick(v.id));
    g.addEventListener("keydown", (e) => { if (e.key === "Enter") onClick(v.id); });
  }
  return svg;
}
