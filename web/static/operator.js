/* smartbus · operator fleet dashboard.
 *
 * A sortable table of every live vehicle beside a map of the routes and the vehicles (coloured
 * by condition, labelled with their route, an arrow for their heading). Live through /ws (a
 * vehicle event triggers one refresh of GET /api/v1/operator/fleet, which recomputes flags and
 * spacing), polling every 5 s when the socket is down. The page asks for an operator API key
 * only when the server requires one (<body data-keys="required">) or refuses the key it has;
 * the key is kept in sessionStorage (gone when the tab closes).
 */
(function () {
  "use strict";
  const KEY_NAME = "smartbus.operatorKey";
  const POLL_MS = 5000;
  const $ = (sel) => document.querySelector(sel);
  const body = document.body;
  const keysRequired = body.dataset.keys === "required";
  const state = {
    rows: [], sortKey: "route_id", sortDir: 1, selected: null, map: null,
    markers: new Map(), updatedAt: 0, generatedAt: 0, started: false, timer: null, ws: null,
  };
  window.smartbusOperator = state;

  function apiKey() { return sessionStorage.getItem(KEY_NAME) || ""; }

  async function api(path) {
    const key = apiKey();
    const res = await fetch(path, { headers: key ? { "X-API-Key": key } : {} });
    if (res.status === 401 || res.status === 403) {
      const problem = await res.json().catch(() => ({}));
      throw Object.assign(new Error(problem.detail || "key refused"), { auth: true, sent: !!key });
    }
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  }

  // ----- formatting -------------------------------------------------------------------------
  function fmtDuration(s, signed) {
    if (s === null || s === undefined) return "";
    const a = Math.abs(s);
    const txt = a >= 3600 ? `${Math.floor(a / 3600)}h${String(Math.floor(a % 3600 / 60)).padStart(2, "0")}`
      : a >= 60 ? `${Math.floor(a / 60)}m${String(Math.round(a % 60)).padStart(2, "0")}` : `${Math.round(a)}s`;
    return (s < 0 ? "−" : s > 0 && signed ? "+" : "") + txt;
  }
  function serviceTime(seconds) {
    // the service clock's time in the feed's zone (the demo runs on the feed's dates)
    const opts = { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" };
    if (state.tz) opts.timeZone = state.tz;
    try { return new Date(seconds * 1000).toLocaleString("en-GB", opts); } catch (e) { return new Date(seconds * 1000).toISOString(); }
  }
  const LOAD = { empty: "empty", many_seats_available: "many seats", few_seats_available: "few seats",
    standing_room_only: "standing", crushed_standing_room_only: "crushed", full: "full", not_accepting_passengers: "closed" };
  function loadText(r) {
    if (r.occupancy_percent !== null && r.occupancy_percent !== undefined) return `${Math.round(r.occupancy_percent)}%`;
    return r.occupancy ? (LOAD[r.occupancy] || r.occupancy.replaceAll("_", " ")) : "";
  }
  function shortTrip(id) {
    // long feed ids ("CNS2014-CNS_MUL-Weekday-00-4165881"): their last part, the whole on hover
    if (!id || id.length <= 12) return id || "";
    const tail = id.split(/[-_:.]/).pop();
    return "…" + (tail.length >= 4 ? tail.slice(-10) : id.slice(-9));
  }
  function ago(seconds) {
    if (seconds < 1) return "just now";
    if (seconds < 90) return `${Math.round(seconds)} s ago`;
    return `${Math.round(seconds / 60)} min ago`;
  }

  function cell(text, cls, title) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    if (title) td.title = title;
    td.textContent = text === null || text === undefined ? "" : String(text);
    return td;
  }

  function compare(a, b) {
    let x = a[state.sortKey], y = b[state.sortKey];
    if (Array.isArray(x)) x = x.length; if (Array.isArray(y)) y = y.length;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : x > y ? 1 : 0) * state.sortDir;
  }

  // ----- the table --------------------------------------------------------------------------
  function renderTable() {
    const tbody = $("#fleet tbody");
    tbody.replaceChildren();
    for (const r of [...state.rows].sort(compare)) {
      const tr = document.createElement("tr");
      tr.dataset.vehicle = r.vehicle_id;
      if (r.vehicle_id === state.selected) tr.className = "selected";
      const block = r.block_id
        ? cell(r.block_id, "l")
        : r.trip_id ? cell("= trip", "l derived", "the feed has no block_id for this trip: it is its own block") : cell("", "l");
      const progress = document.createElement("td");
      if (r.progress !== null && r.progress !== undefined) {
        const pct = Math.round(100 * r.progress);
        progress.innerHTML = `<span class="bar"><i style="width:${pct}%"></i></span>${pct}%`;
      }
      tr.append(
        cell(r.vehicle_id, "l"),
        cell(r.route_short_name || r.route_id, "l", r.route_id),
        cell(shortTrip(r.trip_id), "l trip", r.headsign ? `${r.trip_id} → ${r.headsign}` : r.trip_id),
        block,
        cell(r.delay_s === null ? "" : fmtDuration(r.delay_s, true)),
        cell(r.speed_mps === null ? "" : (r.speed_mps * 3.6).toFixed(0)),
        cell(r.bearing === null ? "" : Math.round(r.bearing) + "°"),
        cell(loadText(r), "l", r.occupancy ? r.occupancy.replaceAll("_", " ") : ""),
        cell(fmtDuration(r.report_age_s)),
        cell(fmtDuration(r.driving_time_s)),
        progress,
        cell(r.headway_ahead_s === null ? "" : fmtDuration(r.headway_ahead_s),
          "", r.ahead_vehicle_id ? `behind ${r.ahead_vehicle_id}` : ""),
      );
      const flags = document.createElement("td");
      flags.className = "l flags";
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
      th.setAttribute("aria-sort", th.dataset.key === state.sortKey ? (state.sortDir > 0 ? "ascending" : "descending") : "none");
    }
  }

  // ----- the map ----------------------------------------------------------------------------
  function colour(r) {
    const f = r.flags;
    if (f.includes("stale")) return "#9e9e9e";
    if (f.includes("off_route") || f.includes("stuck") || f.includes("late")) return "#c62828";
    if (f.includes("early") || f.includes("bunched")) return "#ef8f00";
    return "#2e7d32";
  }

  function vehicleIcon(r) {
    const label = (r.route_short_name || r.route_id || "•").slice(0, 5);
    const arrow = r.bearing === null || r.bearing === undefined ? ""
      : `<span class="arrow" style="transform: rotate(${Math.round(r.bearing)}deg)"></span>`;
    const width = 12 + 7 * label.length;
    return L.divIcon({
      className: "",
      html: `<div class="veh${r.vehicle_id === state.selected ? " sel" : ""}" data-vehicle="${escapeHtml(r.vehicle_id)}"` +
        ` style="background:${colour(r)};width:${width}px;position:relative">${arrow}${escapeHtml(label)}</div>`,
      iconSize: [width, 20],
      iconAnchor: [width / 2, 10],
    });
  }

  function escapeHtml(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => (
      { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  async function drawRoutes(map) {
    try {
      const res = await fetch("/api/v1/routes.geojson");
      const geo = await res.json();
      const layer = L.geoJSON(geo, {
        style: (f) => ({ color: f.properties.color || "#457b9d", weight: 2.5, opacity: 0.55 }),
        interactive: false,
      }).addTo(map);
      state.routesLayer = layer;
      if (!state.rows.length && layer.getBounds().isValid()) map.fitBounds(layer.getBounds(), { padding: [10, 10] });
    } catch (e) { /* the vehicles still show */ }
  }

  function renderMap() {
    if (!window.L) return renderSvg();
    if (!state.map) {
      const el = $("#map");
      state.map = L.map(el, { preferCanvas: true });
      state.map.setView([0, 0], 2);
      L.tileLayer(el.dataset.tiles || "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        { maxZoom: 19, attribution: "© OpenStreetMap contributors" }).addTo(state.map);
      drawRoutes(state.map);
    }
    const seen = new Set();
    for (const r of state.rows) {
      seen.add(r.vehicle_id);
      let m = state.markers.get(r.vehicle_id);
      const key = `${colour(r)}|${r.route_short_name}|${Math.round((r.bearing || 0) / 10)}|${r.vehicle_id === state.selected}`;
      if (!m) {
        m = L.marker([r.lat, r.lon], { icon: vehicleIcon(r), keyboard: false })
          .addTo(state.map).on("click", () => select(r.vehicle_id, false));
        m.iconKey = key;
        state.markers.set(r.vehicle_id, m);
      } else {
        m.setLatLng([r.lat, r.lon]);
        if (m.iconKey !== key) { m.setIcon(vehicleIcon(r)); m.iconKey = key; }
      }
      m.setZIndexOffset(r.vehicle_id === state.selected ? 1000 : 0);
      m.bindTooltip(`${r.vehicle_id} · ${r.route_short_name || r.route_id || "no route"}` +
        `${r.headsign ? " → " + r.headsign : ""}${r.alerts.length ? " · " + r.alerts.join("; ") : ""}`);
    }
    for (const [id, m] of state.markers) if (!seen.has(id)) { m.remove(); state.markers.delete(id); }
    if (state.rows.length && !state.fitted) {
      state.map.fitBounds(state.rows.map((r) => [r.lat, r.lon]), { padding: [20, 20], maxZoom: 15 });
      state.fitted = true;
    }
  }

  function renderSvg() {
    // no Leaflet: an SVG scatter of positions (equirectangular), enough to see bunches and gaps
    const el = $("#map");
    const rows = state.rows;
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
      c.setAttribute("r", r.vehicle_id === state.selected ? "0.012" : "0.007");
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
    state.selected = id;
    renderTable();
    renderMap();
    const r = state.rows.find((x) => x.vehicle_id === id);
    if (pan && r && state.map) state.map.panTo([r.lat, r.lon]);
    const tr = document.querySelector(`#fleet tr[data-vehicle="${CSS.escape(id)}"]`);
    if (tr && !pan) tr.scrollIntoView({ block: "center" });
  }

  // ----- data -------------------------------------------------------------------------------
  async function refresh() {
    try {
      const [fleet, summary] = await Promise.all([api("/api/v1/operator/fleet"), api("/api/v1/operator/fleet/summary")]);
      if (!state.started) showDashboard();
      state.rows = fleet.vehicles;
      state.generatedAt = fleet.generated_at;
      state.updatedAt = Date.now();
      renderTable();
      renderMap();
      const f = summary.flags;
      $("#summary").textContent = `${summary.vehicles} vehicles · ${summary.routes.length} routes in service · `
        + `late ${f.late} · early ${f.early} · bunched ${f.bunched} · stale ${f.stale} · stuck ${f.stuck} · off route ${f.off_route}`
        + ` · ${serviceTime(fleet.generated_at)}`;
      tickStatus();
    } catch (err) {
      if (err.auth) return onRefused(err);
      $("#status").textContent = `update failed: ${err.message}`;
    }
  }

  function tickStatus() {
    if (!state.updatedAt) return;
    const live = state.ws && state.ws.readyState === 1 ? "live" : "polling";
    $("#status").textContent = `${live} · updated ${ago((Date.now() - state.updatedAt) / 1000)}`;
  }

  function onRefused(err) {
    if (err.sent) sessionStorage.removeItem(KEY_NAME);
    if (err.sent && !keysRequired) { refresh(); return; } // keys are optional: go on without
    showKeyForm(err.sent ? err.message : "");
  }

  async function markReports() {
    for (const a of document.querySelectorAll("#reports a[data-job]")) {
      try {
        await api(`/api/v1/operator/reports/${a.dataset.job}?limit=1`);
        a.removeAttribute("aria-disabled");
        a.title = "the latest run's report";
      } catch (e) {
        a.setAttribute("aria-disabled", "true");
        a.title = `not run yet on this server: smartbus jobs ${a.dataset.job}`;
      }
    }
  }

  function connectLive() {
    // The socket only says *that* vehicles changed; the fleet view (flags, spacing) is
    // recomputed by the server, so a burst of events triggers one refresh a second at most.
    let pending = false;
    const poll = () => { if (!state.timer) state.timer = setInterval(refresh, POLL_MS); };
    try {
      const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
      state.ws = ws;
      ws.onopen = () => {
        ws.send(JSON.stringify({ subscribe: { vehicles: ["*"] } }));
        if (state.timer) { clearInterval(state.timer); state.timer = null; }
      };
      ws.onmessage = (ev) => {
        let msg = {};
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (msg.type !== "vehicle" && msg.type !== "withdrawn") return;
        if (pending) return;
        pending = true;
        setTimeout(() => { pending = false; refresh(); }, 1000);
      };
      ws.onclose = () => { poll(); setTimeout(connectLive, 5000); };
    } catch (e) { poll(); }
  }

  // ----- key form and start -------------------------------------------------------------------
  function showKeyForm(message) {
    $("#dashboard").hidden = true;
    $("#forget").hidden = true;
    $("#keyform").hidden = false;
    $("#keyhowto").textContent = body.dataset.apikeyCommand || "smartbus apikey create --role operator --name YOUR-NAME";
    $("#keyerror").textContent = message || "";
    $("#status").textContent = "needs an operator key";
  }

  function showDashboard() {
    state.started = true;
    $("#keyform").hidden = true;
    $("#dashboard").hidden = false;
    $("#forget").hidden = !apiKey();
    if (state.map) state.map.invalidateSize();
    markReports();
  }

  let live = false;
  async function start() {
    if (!state.tz) {
      try { state.tz = (await (await fetch("/api/v1/config")).json()).timezone; } catch (e) { /* UTC */ }
    }
    refresh();
    if (!live) { live = true; connectLive(); setInterval(tickStatus, 1000); }
  }

  document.querySelectorAll("#fleet th").forEach((th) => th.addEventListener("click", () => {
    if (state.sortKey === th.dataset.key) state.sortDir = -state.sortDir;
    else { state.sortKey = th.dataset.key; state.sortDir = 1; }
    renderTable();
  }));
  $("#keyform form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY_NAME, $("#key").value.trim());
    $("#keyerror").textContent = "";
    start();
  });
  $("#forget").addEventListener("click", () => { sessionStorage.removeItem(KEY_NAME); location.reload(); });
  if (keysRequired && !apiKey()) showKeyForm(""); else start();
})();
