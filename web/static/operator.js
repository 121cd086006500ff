// Operator fleet dashboard: sortable table beside a map, live through /ws with polling fallback.
// The operator API key is asked for once and kept in sessionStorage (gone when the tab closes).
(function () {
  "use strict";
  const KEY_NAME = "smartbus.operatorKey";
  const POLL_MS = 5000;
  let rows = [];
  let sortKey = "route_id";
  let sortDir = 1;
  let selected = null;
  let map = null;
  const markers = new Map();
  const $ = (sel) => document.querySelector(sel);

  function apiKey() { return sessionStorage.getItem(KEY_NAME); }

  async function api(path) {
    const res = await fetch(path, { headers: { "X-API-Key": apiKey() || "" } });
    if (res.status === 401 || res.status === 403) {
      const body = await res.json().catch(() => ({}));
      throw Object.assign(new Error(body.detail || "key refused"), { auth: true });
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  }

  function fmtDuration(s) {
    if (s === null || s === undefined) return "";
    const a = Math.abs(s);
    const txt = a >= 3600 ? `${Math.floor(a / 3600)}h${String(Math.floor(a % 3600 / 60)).padStart(2, "0")}`
      : a >= 60 ? `${Math.floor(a / 60)}m${String(Math.round(a % 60)).padStart(2, "0")}` : `${Math.round(a)}s`;
    return (s < 0 ? "-" : "") + txt;
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function compare(a, b) {
    let x = a[sortKey], y = b[sortKey];
    if (Array.isArray(x)) x = x.length; if (Array.isArray(y)) y = y.length;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
  }

  function renderTable() {
    const tbody = $("#fleet tbody");
    tbody.replaceChildren();
    for (const r of [...rows].sort(compare)) {
      const tr = document.createElement("tr");
      tr.dataset.vehicle = r.vehicle_id;
      if (r.vehicle_id === selected) tr.className = "selected";
      tr.append(
        cell(r.vehicle_id, "l"), cell(r.route_id, "l"), cell(r.trip_id, "l"), cell(r.block_id, "l"),
        cell(r.delay_s === null ? "" : fmtDuration(r.delay_s)),
        cell(r.speed_mps === null ? "" : (r.speed_mps * 3.6).toFixed(0)),
        cell(r.bearing === null ? "" : Math.round(r.bearing) + "°"),
        cell(r.occupancy_percent !== null ? `${Math.round(r.occupancy_percent)}%` : (r.occupancy || "").replaceAll("_", " "), "l"),
        cell(fmtDuration(r.report_age_s)),
        cell(fmtDuration(r.driving_time_s)),
        cell(r.progress === null ? "" : `${Math.round(100 * r.progress)}%`),
        cell(r.headway_ahead_s === null ? "" : fmtDuration(r.headway_ahead_s)),
      );
      const flags = document.createElement("td");
      flags.className = "l";
      flags.title = r.alerts.join("; ");
      for (const f of r.flags) {
        const span = document.createElement("span");
        span.className = `flag ${f}`;
        span.textContent = f.replace("_", " ");
        flags.append(span);
      }
      tr.append(flags);
      tr.addEventListener("click", () => select(r.vehicle_id, true));
      tbody.append(tr);
    }
    for (const th of document.querySelectorAll("#fleet th")) {
      th.setAttribute("aria-sort", th.dataset.key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
    }
  }

  function colour(r) {
    if (r.flags.includes("stale") || r.flags.includes("off_route") || r.flags.includes("stuck") || r.flags.includes("late")) return "#c62828";
    if (r.flags.includes("early") || r.flags.includes("bunched")) return "#ef8f00";
    return "#2e7d32";
  }

  function renderMap() {
    const el = $("#map");
    if (window.L) {
      if (!map) {
        map = L.map(el);
        L.tileLayer(el.dataset.tiles || "https://tile.openstreetmap.org/{z}/{x}/{y}.png", { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
      }
      const seen = new Set();
      for (const r of rows) {
        seen.add(r.vehicle_id);
        let m = markers.get(r.vehicle_id);
        if (!m) {
          m = L.circleMarker([r.lat, r.lon], { radius: 6 }).addTo(map).on("click", () => select(r.vehicle_id, false));
          markers.set(r.vehicle_id, m);
        }
        m.setLatLng([r.lat, r.lon]).setStyle({ color: colour(r), fillOpacity: .8 });
        m.bindTooltip(`${r.vehicle_id} · ${r.route_id || "no route"} ${r.alerts.join("; ")}`);
      }
      for (const [id, m] of markers) if (!seen.has(id)) { m.remove(); markers.delete(id); }
      if (rows.length && !map._fitted) { map.fitBounds(rows.map((r) => [r.lat, r.lon]), { padding: [20, 20] }); map._fitted = true; }
      return;
    }
    // no Leaflet: an SVG scatter of positions (equirectangular), enough to see bunches and gaps
    if (!rows.length) { el.replaceChildren(); return; }
    const lats = rows.map((r) => r.lat), lons = rows.map((r) => r.lon);
    const [y0, y1, x0, x1] = [Math.min(...lats), Math.max(...lats), Math.min(...lons), Math.max(...lons)];
    const k = Math.cos((y0 + y1) / 2 * Math.PI / 180);
    const w = Math.max((x1 - x0) * k, 1e-4), h = Math.max(y1 - y0, 1e-4);
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", `-0.05 -0.05 1.1 ${1.1 * h / w}`);
    svg.setAttribute("width", "100%"); svg.setAttribute("height", "100%");
    for (const r of rows) {
      const c = document.createElementNS(ns, "circle");
      c.setAttribute("cx", String((r.lon - x0) * k / w));
      c.setAttribute("cy", String((y1 - r.lat) / w));
      c.setAttribute("r", r.vehicle_id === selected ? "0.012" : "0.007");
      c.setAttribute("fill", colour(r));
      const t = document.createElementNS(ns, "title");
      t.textContent = `${r.vehicle_id} · ${r.route_id || "no route"}`;
      c.append(t);
      c.addEventListener("click", () => select(r.vehicle_id, false));
      svg.append(c);
    }
    el.replaceChildren(svg);
  }

  function select(id, pan) {
    selected = id;
    renderTable();
    const r = rows.find((x) => x.vehicle_id === id);
    if (pan && r && map) map.panTo([r.lat, r.lon]);
    if (!map) renderMap();
    const tr = document.querySelector(`#fleet tr[data-vehicle="${CSS.escape(id)}"]`);
    if (tr && !pan) tr.scrollIntoView({ block: "center" });
  }

  async function refresh() {
    try {
      const [fleet, summary] = await Promise.all([api("/api/v1/operator/fleet"), api("/api/v1/operator/fleet/summary")]);
      rows = fleet.vehicles;
      renderTable();
      renderMap();
      const f = summary.flags;
      $("#summary").textContent = `${summary.vehicles} vehicles · ${summary.routes.length} routes in service · `
        + `late ${f.late} · early ${f.early} · bunched ${f.bunched} · stale ${f.stale} · stuck ${f.stuck} · off route ${f.off_route}`;
      $("#status").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (err) {
      if (err.auth) { sessionStorage.removeItem(KEY_NAME); showKeyForm(err.message); return; }
      $("#status").textContent = `update failed: ${err.message}`;
    }
  }

  let timer = null;
  function connectLive() {
    // The WebSocket only says *that* something changed; the fleet view (flags, spacing) is
    // recomputed by the server, so a burst of updates triggers one refresh.
    let pending = false;
    try {
      const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
      ws.onopen = () => {
        ws.send(JSON.stringify({ subscribe: { vehicles: ["*"] } }));
        if (timer) { clearInterval(timer); timer = null; }
      };
      ws.onmessage = (ev) => {
        let msg = {};
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type !== "vehicle" && msg.type !== "withdrawn") return;
        if (pending) return;
        pending = true;
        setTimeout(() => { pending = false; refresh(); }, 1000);
      };
      ws.onclose = () => { if (!timer) timer = setInterval(refresh, POLL_MS); };
    } catch (e) { /* no WebSocket: polling below */ }
    timer = setInterval(refresh, POLL_MS);
  }

  function showKeyForm(message) {
    $("#dashboard").hidden = true;
    $("#forget").hidden = true;
    $("#keyform").hidden = false;
    $("#keyerror").textContent = message || "";
  }

  function start() {
    $("#keyform").hidden = true;
    $("#dashboard").hidden = false;
    $("#forget").hidden = false;
    refresh();
    connectLive();
  }

  document.querySelectorAll("#fleet th").forEach((th) => th.addEventListener("click", () => {
    if (sortKey === th.dataset.key) sortDir = -sortDir; else { sortKey = th.dataset.key; sortDir = 1; }
    renderTable();
  }));
  $("#keyform form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY_NAME, $("#key").value.trim());
    start();
  });
  $("#forget").addEventListener("click", () => { sessionStorage.removeItem(KEY_NAME); location.reload(); });
  if (apiKey()) start(); else showKeyForm("");
})();
