/*
 * strom's flame graph: draws the answer of GET /jobs/:jobid/vertices/:vertexid/flamegraph
 * (Flink's VertexFlameGraph) as an SVG, without any library or network access.
 *
 *   window.stromFlameGraph.render(element, response)
 *
 * `response` is the REST answer ({endTimestamp, data}) or a node ({name, value, children}).
 * Frames grow upwards from the root; a frame's width is its share of the samples. Hovering a
 * frame shows its name, its samples and its share; clicking it zooms in (its ancestors stay
 * below it, full width; clicking one of them, or the root, zooms out). User frames are warm
 * colours, strom's own frames (strom/...) blue, Python's and libraries' frames grey-green.
 * render() returns {zoom(name), reset(), root}; calling it again replaces the drawing.
 */
(function () {
  "use strict";

  var ROW = 18;
  var MIN_WIDTH_PX = 0.5;
  var SVG_NS = "http://www.w3.org/2000/svg";

  var MESSAGES = {
    "-1": "The vertex (or subtask) has ended: there is nothing to sample.",
    "-2": "Flame graphs are disabled. Set rest.flamegraph.enabled: true in the " +
          "JobManager's config.yaml (or -Drest.flamegraph.enabled=true) and restart it.",
    "-3": "Sampling the tasks' stacks: the flame graph appears when the first samples " +
          "are in (a few seconds; rest.flamegraph.num-samples x " +
          "rest.flamegraph.delay-between-samples)."
  };

  function hash(text) {
    var h = 0;
    for (var i = 0; i < text.length; i++) {
      h = (h * 31 + text.charCodeAt(i)) | 0;
    }
    return Math.abs(h);
  }

  function kindOf(name) {
    var open = name.lastIndexOf(" (");
    var file = open >= 0 ? name.slice(open + 2) : "";
    if (name === "root") { return "root"; }
    if (file.indexOf("strom/") === 0) { return "strom"; }
    if (file.indexOf("/") >= 0 || file.indexOf("<") === 0) { return "library"; }
    return "user";
  }

  function colour(name) {
    var h = hash(name);
    switch (kindOf(name)) {
      case "root": return "hsl(0, 0%, 78%)";
      case "strom": return "hsl(" + (200 + h % 30) + ", 55%, " + (68 + h % 12) + "%)";
      case "library": return "hsl(" + (90 + h % 40) + ", 25%, " + (62 + h % 12) + "%)";
      default: return "hsl(" + (h % 45) + ", 85%, " + (55 + h % 15) + "%)";
    }
  }

  function depthOf(node) {
    var deepest = 0;
    (node.children || []).forEach(function (child) {
      deepest = Math.max(deepest, depthOf(child));
    });
    return deepest + 1;
  }

  function el(name, attributes, parent) {
    var node = document.createElementNS(SVG_NS, name);
    Object.keys(attributes).forEach(function (key) { node.setAttribute(key, attributes[key]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function message(element, text) {
    var p = document.createElement("p");
    p.className = "strom-flamegraph-message";
    p.textContent = text;
    element.appendChild(p);
    return { zoom: function () { return false; }, reset: function () {}, root: null };
  }

  function percent(part, whole) {
    return whole > 0 ? (100 * part / whole).toFixed(1) + "%" : "0%";
  }

  function render(element, response) {
    element.textContent = "";
    var root = response;
    if (response && Object.prototype.hasOwnProperty.call(response, "endTimestamp")) {
      root = response.data;
      if (!root) {
        return message(element, MESSAGES[String(response.endTimestamp)] ||
                       "No flame graph (endTimestamp " + response.endTimestamp + ").");
      }
    }
    if (!root || !root.value) {
      return message(element, "No samples of this type: the threads were never in this " +
                     "state while sampled (try FULL, ON_CPU or OFF_CPU).");
    }
    // parents, so that a zoomed frame's ancestors can be drawn below it
    var parents = new Map();
    (function link(node) {
      (node.children || []).forEach(function (child) {
        parents.set(child, node);
        link(child);
      });
    })(root);

    var total = root.value;
    var rows = depthOf(root);
    var height = rows * ROW;
    var container = document.createElement("div");
    container.className = "strom-flamegraph";
    container.style.position = "relative";
    element.appendChild(container);
    var svg = el("svg", {width: "100%", height: String(height), role: "img",
                         "aria-label": "flame graph"}, container);
    svg.style.fontFamily = "monospace";
    svg.style.fontSize = "11px";
    var tip = document.createElement("div");
    tip.className = "strom-flamegraph-tooltip";
    tip.style.cssText = "position:absolute;display:none;pointer-events:none;background:#333;" +
      "color:#fff;padding:3px 6px;border-radius:3px;font:12px monospace;white-space:nowrap;" +
      "z-index:10";
    container.appendChild(tip);

    var focus = root;

    function draw() {
      while (svg.firstChild) { svg.removeChild(svg.firstChild); }
      var width = svg.getBoundingClientRect().width || element.clientWidth || 1000;
      var chain = [];
      for (var up = parents.get(focus); up; up = parents.get(up)) { chain.unshift(up); }
      chain.forEach(function (ancestor, depth) {
        frame(ancestor, 0, 1, depth, width, true);
      });
      layout(focus, 0, 1, chain.length, width);
    }

    function layout(node, x, w, depth, width) {
      frame(node, x, w, depth, width, false);
      var offset = x;
      (node.children || []).forEach(function (child) {
        var cw = w * child.value / node.value;
        if (cw * width >= MIN_WIDTH_PX) { layout(child, offset, cw, depth + 1, width); }
        offset += cw;
      });
    }

    function frame(node, x, w, depth, width, ancestor) {
      var y = height - (depth + 1) * ROW;
      var g = el("g", {"class": "strom-flamegraph-frame", "data-name": node.name}, svg);
      g.style.cursor = "pointer";
      var rect = el("rect", {x: (100 * x) + "%", y: String(y), width: (100 * w) + "%",
                             height: String(ROW - 1), rx: "2", fill: colour(node.name)}, g);
      if (ancestor) { rect.setAttribute("fill-opacity", "0.55"); }
      var chars = Math.floor((w * width - 6) / 6.6);
      if (chars >= 3) {
        var label = node.name.length > chars ? node.name.slice(0, chars - 2) + ".." : node.name;
        var text = el("text", {x: (100 * x) + "%", y: String(y + ROW - 5), dx: "3"}, g);
        text.textContent = label;
      }
      var share = node.name + " — " + node.value + " samples, " + percent(node.value, total) +
        " of all" + (focus !== root ? ", " + percent(node.value, focus.value) +
        " of " + focus.name.split(" (")[0] : "");
      el("title", {}, g).textContent = share;
      g.addEventListener("mousemove", function (event) {
        var box = container.getBoundingClientRect();
        tip.textContent = share;
        tip.style.display = "block";
        tip.style.left = Math.min(event.clientX - box.left + 12, box.width - 20) + "px";
        tip.style.top = (event.clientY - box.top + 12) + "px";
      });
      g.addEventListener("mouseleave", function () { tip.style.display = "none"; });
      g.addEventListener("click", function () {
        focus = node;
        tip.style.display = "none";
        draw();
      });
    }

    function find(node, name) {
      if (node.name === name) { return node; }
      var children = node.children || [];
      for (var i = 0; i < children.length; i++) {
        var found = find(children[i], name);
        if (found) { return found; }
      }
      return null;
    }

    draw();
    return {
      root: root,
      zoom: function (name) {
        var node = find(root, name);
        if (node) { focus = node; draw(); }
        return node !== null;
      },
      reset: function () { focus = root; draw(); }
    };
  }

  window.stromFlameGraph = { render: render };
})();
