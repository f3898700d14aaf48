"""The stylesheet and script inlined into the HTML view (kept apart from the renderer so
each reads as what it is). The page loads nothing: no fonts, no CDN, no network at all, and
its Content-Security-Policy allows exactly these two blocks (by hash) and nothing else.

The script only ever writes text (``textContent``), never markup: every value it shows
comes from claims that other parties wrote.
"""

from __future__ import annotations

STYLE = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #8a97a8; --accent: #1565c0;
  --ok: #2e7d32; --ok-bg: #e3f6e5; --no: #c62828; --no-bg: #fde4e4; --other: #b26a00;
  --other-bg: #fff3dc; }
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body { font: 13px/1.4 system-ui, "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
  color: var(--ink); display: grid; grid-template-rows: auto 1fr;
  grid-template-columns: 1fr 400px; grid-template-areas: "head head" "graph panel"; }
header { grid-area: head; padding: 8px 14px; border-bottom: 1px solid #d5dbe3;
  display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; background: #f7f9fb; }
header h1 { font-size: 15px; margin: 0; }
header .stats { color: var(--muted); }
.legend { display: flex; gap: 12px; align-items: center; color: var(--muted); }
.swatch { display: inline-block; width: 14px; height: 10px; border: 1.5px solid var(--line);
  border-radius: 3px; vertical-align: -1px; margin-right: 4px; background: #fff; }
.swatch.approved { background: var(--ok-bg); border-color: var(--ok); }
.swatch.rejected { background: var(--no-bg); border-color: var(--no); }
.swatch.other { background: var(--other-bg); border-color: var(--other); }
.swatch.unresolved { border-style: dashed; background: #f4f4f4; }
.swatch.failed { background: var(--no-bg); border-color: var(--no); border-style: double;
  border-width: 3px; }
.controls { display: flex; gap: 4px; margin-left: auto; }
.controls button, .controls input { font: inherit; padding: 2px 8px; }
.controls input { width: 220px; }
main { grid-area: graph; position: relative; overflow: hidden; background: #fff; }
#graph { width: 100%; height: 100%; display: block; cursor: grab; user-select: none; }
#graph.panning { cursor: grabbing; }
aside { grid-area: panel; border-left: 1px solid #d5dbe3; overflow: auto; padding: 10px 14px;
  background: #fbfcfd; }
aside h2 { font-size: 15px; margin: 4px 0 8px; overflow-wrap: anywhere; }
aside h3 { font-size: 12px; margin: 12px 0 4px; color: var(--muted); text-transform: uppercase;
  letter-spacing: .04em; }
aside dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 10px; margin: 0; }
aside dt { color: var(--muted); }
aside dd { margin: 0; overflow-wrap: anywhere; }
aside ul { margin: 0; padding-left: 18px; }
aside li button { font: inherit; color: var(--accent); background: none; border: 0; padding: 0;
  cursor: pointer; text-align: left; overflow-wrap: anywhere; }
aside pre { background: #fff; border: 1px solid #d5dbe3; border-radius: 4px; padding: 8px;
  font: 12px/1.35 ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace;
  white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; }
aside .hint { color: var(--muted); }
.badge { font-weight: 600; }
.badge.approved { color: var(--ok); } .badge.rejected { color: var(--no); }
.badge.other { color: var(--other); }
.edge { fill: none; stroke: var(--line); stroke-width: 1.4; }
.edge.unresolved { stroke-dasharray: 5 4; }
.edge.hl { stroke: var(--accent); stroke-width: 2.6; }
svg.focused .edge:not(.hl) { opacity: .25; }
.node { cursor: pointer; }
.node rect.box { fill: #fff; stroke: var(--line); stroke-width: 1.3; }
.node.approved rect.box { fill: var(--ok-bg); stroke: var(--ok); stroke-width: 1.6; }
.node.rejected rect.box { fill: var(--no-bg); stroke: var(--no); stroke-width: 2.4; }
.node.other rect.box { fill: var(--other-bg); stroke: var(--other); }
.node.failed rect.box { fill: var(--no-bg); stroke: var(--no); stroke-width: 2.4;
  stroke-dasharray: 9 3; }
.node.unresolved rect.box { fill: #f4f4f4; stroke: #777; stroke-dasharray: 6 4; }
.node.sel rect.box { stroke: var(--accent); stroke-width: 3.2; }
.node:focus { outline: none; } .node:focus rect.box { stroke: var(--accent); }
.node.match rect.box { stroke: var(--accent); stroke-dasharray: 3 2; }
.node text { font-size: 12.5px; fill: var(--ink); }
.node text.act { font-size: 14px; font-weight: 600; }
.node text.role { font-size: 12px; font-weight: 600; fill: var(--accent); }
.node text.who, .node text.when { fill: var(--muted); }
.node text.status { text-anchor: end; fill: var(--muted); }
.node text.dec { font-weight: 700; }
.node.approved text.dec { fill: var(--ok); } .node.rejected text.dec { fill: var(--no); }
.node.other text.dec { fill: var(--other); }
.node text.dec.fail { fill: var(--no); }
.node.failed text.status { fill: var(--no); font-weight: 700; }
.node text.dec tspan.pol { font-weight: 400; fill: var(--muted); }
.arrow { fill: var(--line); }
"""

SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("ect-data").textContent);
  var svg = document.getElementById("graph");
  var nodes = svg.querySelectorAll("#nodes > .node");
  var edges = svg.querySelectorAll("#edges > .edge");
  var T = data.tasks.length;
  var bounds = data.bounds, box = null, selected = -1, matches = [];
  var parents = [], children = [], touching = [];
  for (var k = 0; k < nodes.length; k++) { parents.push([]); children.push([]); touching.push([]); }
  data.edges.forEach(function (e, n) {
    parents[e[1]].push(e[0]); children[e[0]].push(e[1]);
    touching[e[0]].push(n); touching[e[1]].push(n);
  });

  function view(b) {
    box = b;
    svg.setAttribute("viewBox", b.x + " " + b.y + " " + b.w + " " + b.h);
  }
  function size() {
    var r = svg.getBoundingClientRect();
    return {w: r.width || 1, h: r.height || 1};
  }
  // The smallest scale at which node text stays readable (12 px text at least 10 px on
  // screen): a larger graph is not shrunk further, it is scrolled and dragged instead.
  var MIN_SCALE = 0.84, MAX_SCALE = 3;
  function fit() {
    var s = size(), scale = Math.min(s.w / bounds.w, s.h / bounds.h, 1.25);
    if (scale < MIN_SCALE) {  // too small to read: start readable, at the first task
      scale = MIN_SCALE;
      var first = data.tasks.length ? data.tasks[0].pos : [bounds.x, bounds.y];
      var top = Math.max(bounds.y, Math.min(first[1] - s.h / scale / 2,
                                            bounds.y + bounds.h - s.h / scale));
      view({x: bounds.x, y: s.h / scale >= bounds.h ? bounds.y - (s.h / scale - bounds.h) / 2
            : top, w: s.w / scale, h: s.h / scale});
      return;
    }
    var w = s.w / scale, h = s.h / scale;
    view({x: bounds.x - (w - bounds.w) / 2, y: bounds.y - (h - bounds.h) / 2, w: w, h: h});
  }
  function actual() {  // real size, around the selected task if there is one
    var s = size(), cx = box.x + box.w / 2, cy = box.y + box.h / 2;
    view({x: cx - s.w / 2, y: cy - s.h / 2, w: s.w, h: s.h});
    if (selected >= 0) { center(selected); }
  }
  function zoom(factor, cx, cy) {
    var s = size();
    factor = Math.min(factor, s.w / MIN_SCALE / box.w);  // never below the readable scale
    factor = Math.max(factor, s.w / MAX_SCALE / box.w);
    var w = box.w * factor, h = box.h * factor;
    view({x: cx - (cx - box.x) * factor, y: cy - (cy - box.y) * factor, w: w, h: h});
  }
  function toGraph(ev) {
    var s = size(), r = svg.getBoundingClientRect();
    return {x: box.x + (ev.clientX - r.left) / s.w * box.w,
            y: box.y + (ev.clientY - r.top) / s.h * box.h};
  }
  function center(k) {
    var p = k < T ? data.tasks[k].pos : data.unresolved[k - T].pos;
    view({x: p[0] + data.node[0] / 2 - box.w / 2, y: p[1] + data.node[1] / 2 - box.h / 2,
          w: box.w, h: box.h});
  }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function nodeName(k) {
    if (k >= T) { return "unresolved parent " + data.unresolved[k - T].jti; }
    var t = data.tasks[k];
    return t.act + " (" + t.jti.slice(0, 8) + ")";
  }
  function links(list, ids) {
    list.textContent = "";
    if (!ids.length) { list.appendChild(el("li", "none")); return; }
    ids.forEach(function (k) {
      var b = el("button", nodeName(k));
      b.type = "button";
      b.addEventListener("click", function () { select(k); center(k); });
      var li = el("li"); li.appendChild(b); list.appendChild(li);
    });
  }
  function field(dl, name, value, cls) {
    dl.appendChild(el("dt", name));
    dl.appendChild(el("dd", value, cls));
  }
  function select(k) {
    if (selected >= 0) { nodes[selected].classList.remove("sel"); }
    svg.querySelectorAll(".edge.hl").forEach(function (e) { e.classList.remove("hl"); });
    selected = k;
    nodes[k].classList.add("sel");
    svg.classList.add("focused");
    touching[k].forEach(function (n) { edges[n].classList.add("hl"); });
    var dl = document.getElementById("p-fields");
    dl.textContent = "";
    var pre = document.getElementById("p-claims");
    if (k < T) {
      var t = data.tasks[k];
      document.getElementById("p-title").textContent = t.act;
      field(dl, "role", t.role);
      field(dl, "jti", t.jti);
      field(dl, "issuer", t.iss);
      field(dl, "recorded", t.time);
      field(dl, "issued (iat)", t.issued);
      if (t.decision) {
        field(dl, "policy", t.policy || "");
        // Not green over an HTTP error: the request was verified, the answer still failed.
        field(dl, "decision", t.marker + " " + t.decision, t.failed ? "badge" : "badge " + t.cls);
      }
      if (t.status !== null) {
        field(dl, "HTTP status", String(t.status), t.failed ? "badge rejected" : undefined);
      }
      field(dl, "recorded by", t.recorded_by.join(", "));
      if (t.traces.length) { field(dl, "trace id", t.traces.join(", ")); }
      pre.textContent = JSON.stringify(t.claims, null, 2);
    } else {
      var u = data.unresolved[k - T];
      document.getElementById("p-title").textContent = "Unresolved parent";
      field(dl, "jti", u.jti);
      field(dl, "why", "named in par, but no ledger that was read recorded this task");
      pre.textContent = "(no token: the claims of this task are not known)";
    }
    links(document.getElementById("p-parents"), parents[k]);
    links(document.getElementById("p-children"), children[k]);
    document.getElementById("p-hint").hidden = true;
    document.getElementById("p-body").hidden = false;
  }

  svg.addEventListener("click", function (ev) {
    if (moved) { return; }
    var g = ev.target.closest(".node");
    if (g) { select(Number(g.getAttribute("data-k"))); }
  });
  svg.addEventListener("keydown", function (ev) {
    var g = ev.target.closest && ev.target.closest(".node");
    if (g && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault(); select(Number(g.getAttribute("data-k")));
    }
  });
  // The wheel scrolls (shift: sideways); with Ctrl (or a pinch) it zooms.
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    if (ev.ctrlKey || ev.metaKey) {
      var p = toGraph(ev);
      zoom(Math.pow(1.0015, ev.deltaY), p.x, p.y);
      return;
    }
    var s = size(), k = box.w / s.w;
    var dx = ev.shiftKey ? ev.deltaY : ev.deltaX, dy = ev.shiftKey ? 0 : ev.deltaY;
    view({x: box.x + dx * k, y: box.y + dy * k, w: box.w, h: box.h});
  }, {passive: false});
  var start = null, moved = false;
  svg.addEventListener("pointerdown", function (ev) {
    start = {x: ev.clientX, y: ev.clientY, box: box}; moved = false;
  });
  window.addEventListener("pointermove", function (ev) {
    if (!start) { return; }
    var dx = ev.clientX - start.x, dy = ev.clientY - start.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
    moved = true; svg.classList.add("panning");
    var s = size();
    view({x: start.box.x - dx / s.w * box.w, y: start.box.y - dy / s.h * box.h,
          w: box.w, h: box.h});
  });
  window.addEventListener("pointerup", function () {
    start = null; svg.classList.remove("panning");
  });
  document.getElementById("fit").addEventListener("click", fit);
  document.getElementById("actual").addEventListener("click", actual);
  document.getElementById("zoom-in").addEventListener("click", function () {
    zoom(1 / 1.4, box.x + box.w / 2, box.y + box.h / 2);
  });
  document.getElementById("zoom-out").addEventListener("click", function () {
    zoom(1.4, box.x + box.w / 2, box.y + box.h / 2);
  });
  document.getElementById("find").addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter") { return; }
    var q = ev.target.value.trim().toLowerCase();
    matches.forEach(function (k) { nodes[k].classList.remove("match"); });
    matches = [];
    if (!q) { return; }
    data.tasks.forEach(function (t, k) {
      if ((t.jti + " " + t.act + " " + t.iss).toLowerCase().indexOf(q) >= 0) { matches.push(k); }
    });
    matches.forEach(function (k) { nodes[k].classList.add("match"); });
    document.getElementById("found").textContent = matches.length + " found";
    if (matches.length) { select(matches[0]); center(matches[0]); }
  });
  window.addEventListener("resize", fit);
  fit();
  document.body.setAttribute("data-ready", "1");
})();
"""
