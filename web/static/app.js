/* smartbus · rider map page.
 *
 * Routes (GET /api/v1/routes.geojson) and stops (GET /api/v1/stops?bbox=) are vector layers, so
 * the map is useful when tiles cannot load. Buses come from GET /api/v1/vehicles and then move
 * with WebSocket /ws events ({"subscribe": {"vehicles": ["*"]}}); when the socket is down the
 * page polls every 10 s. Clicking a stop lists its arrivals (GET /api/v1/stops/{id}/arrivals),
 * counting down every second and refreshed by the socket. "Near me" uses the browser's location
 * or, when refused, a click on the map. The Leaflet map is window.smartbusMap (plan.js uses it).
 */
(function () {
  "use strict";

  const cfg = window.SMARTBUS_CONFIG || {};
  const $ = (id) => document.getElementById(id);
  const state = {
    clockOffsetMs: 0, // server clock (demo clock in simulate mode) minus the browser's
    buses: new Map(), // vehicle_id -> {marker, data}
    stop: null, // selected stop {stop_id, name, ...}
    arrivals: [],
    arrivalsAt: 0,
    ws: null,
    wsLive: false,
    pickNear: false,
    stopsLayer: null,
    nearLayer: null,
    stopMarkers: new Map(),
  };
  window.smartbus = state;

  // ----- the map ------------------------------------------------------------------------
  const map = L.map("map", { zoomControl: true, preferCanvas: true }).setView([0, 0], 2);
  window.smartbusMap = map;
  if (cfg.tileUrl) {
    L.tileLayer(cfg.tileUrl, {
      maxZoom: 19,
      attribution: "&copy; OpenStreetMap contributors",
    }).addTo(map);
  }
  const routesLayer = L.layerGroup().addTo(map);
  state.stopsLayer = L.layerGroup().addTo(map);
  const busLayer = L.layerGroup().addTo(map);
  state.nearLayer = L.layerGroup().addTo(map);

  function serverNow() { return Date.now() + state.clockOffsetMs; }
  function syncClock(iso) {
    if (iso) state.clockOffsetMs = Date.parse(iso) - Date.now();
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.detail || `${r.status} ${r.statusText}`);
    return body;
  }

  function esc(s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => (
      { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  function hint(text) { $("hint").textContent = text || ""; }

  async function start() {
    try {
      const conf = await getJSON("/api/v1/config");
      syncClock(conf.now);
      if (conf.bounds) map.fitBounds(conf.bounds, { padding: [20, 20] });
    } catch (e) {
      hint(`Could not load the network: ${e.message}`);
    }
    drawRoutes();
    loadStops();
    map.on("moveend", loadStops);
    await refreshBuses();
    connect();
    setInterval(() => { if (!state.wsLive) refreshBuses(); }, 10000);
    setInterval(tick, 1000);
    setInterval(() => { if (state.stop) loadArrivals(); }, 20000);
  }

  async function drawRoutes() {
    try {
      const r = await fetch("/api/v1/routes.geojson");
      const geo = await r.json();
      L.geoJSON(geo, {
        style: (f) => ({ color: f.properties.color || "#457b9d", weight: 3, opacity: 0.75 }),
        interactive: false,
      }).addTo(routesLayer);
    } catch (e) { /* routes are decoration; buses and stops still work */ }
  }

  async function loadStops() {
    const b = map.getBounds();
    if (map.getZoom() < 12) { state.stopsLayer.clearLayers(); state.stopMarkers.clear(); return; }
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map((v, i) => Math.max(i % 2 ? -90 : -180, Math.min(i % 2 ? 90 : 180, v)).toFixed(5));
    try {
      const body = await getJSON(`/api/v1/stops?bbox=${bbox.join(",")}&limit=2000`);
      state.stopsLayer.clearLayers();
      state.stopMarkers.clear();
      for (const s of body.stops) {
        const m = L.circleMarker([s.lat, s.lon], {
          radius: 5, color: "#1d3557", weight: 1.5, fillColor: "#fff", fillOpacity: 1,
        }).bindTooltip(esc(s.name));
        m.on("click", (ev) => { L.DomEvent.stopPropagation(ev); selectStop(s); });
        m.addTo(state.stopsLayer);
        state.stopMarkers.set(s.stop_id, m);
      }
    } catch (e) { /* keep the previous stops */ }
  }

  // ----- buses --------------------------------------------------------------------------
  function busIcon(v) {
    const label = v.route_short_name || "•";
    const stale = (v.flags || []).includes("stale");
    return L.divIcon({
      className: "bus-marker" + (stale ? " stale" : ""),
      html: `<span data-vehicle="${esc(v.vehicle_id)}">${esc(label.slice(0, 4))}</span>`,
      iconSize: [26, 26],
    });
  }

  function busPopup(v) {
    const delay = v.delay_s == null ? "" : v.delay_s >= 60 ? `${Math.round(v.delay_s / 60)} min late`
      : v.delay_s <= -60 ? `${Math.round(-v.delay_s / 60)} min early` : "on time";
    return `<b>${esc(v.route_short_name || v.route_id || "bus")}</b> ${esc(v.headsign || "")}<br>` +
      `vehicle ${esc(v.vehicle_id)} ${delay ? "· " + delay : ""}` +
      (v.occupancy ? `<br>${esc(v.occupancy.replaceAll("_", " ").toLowerCase())}` : "");
  }

  function placeBus(v) {
    let bus = state.buses.get(v.vehicle_id);
    if (!bus) {
      const marker = L.marker([v.lat, v.lon], { icon: busIcon(v), keyboard: false, zIndexOffset: 500 });
      marker.bindPopup(() => busPopup(bus.data));
      marker.addTo(busLayer);
      bus = { marker, data: v, moves: 0 };
      state.buses.set(v.vehicle_id, bus);
    } else {
      const before = bus.marker.getLatLng();
      if (before.lat !== v.lat || before.lng !== v.lon) bus.moves += 1;
      bus.marker.setLatLng([v.lat, v.lon]);
      const staleBefore = (bus.data.flags || []).includes("stale");
      const staleNow = (v.flags || []).includes("stale");
      if (staleBefore !== staleNow || bus.data.route_short_name !== v.route_short_name) {
        bus.marker.setIcon(busIcon(v));
      }
      bus.data = Object.assign({}, bus.data, v);
    }
  }

  async function refreshBuses() {
    try {
      const body = await getJSON("/api/v1/vehicles");
      syncClock(body.now);
      const seen = new Set();
      for (const v of body.vehicles) { placeBus(v); seen.add(v.vehicle_id); }
      for (const [id, bus] of state.buses) {
        if (!seen.has(id)) { busLayer.removeLayer(bus.marker); state.buses.delete(id); }
      }
    } catch (e) { /* try again on the next round */ }
  }

  function setStatus(kind, text) {
    const el = $("live-status");
    el.className = "status " + kind;
    el.textContent = text;
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try { ws = new WebSocket(`${proto}//${location.host}/ws`); } catch (e) { return fallback(); }
    state.ws = ws;
    ws.onopen = () => {
      state.wsLive = true;
      setStatus("live", "live");
      subscribe();
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "vehicle" && msg.vehicle) onVehicleEvent(msg.vehicle);
      else if (msg.type === "arrivals" || msg.type === "withdrawn") onArrivalsEvent(msg);
      else if (msg.type === "heartbeat" && typeof msg.now === "number") {
        state.clockOffsetMs = msg.now * 1000 - Date.now();
      }
    };
    ws.onclose = () => { state.wsLive = false; fallback(); setTimeout(connect, 5000); };
    ws.onerror = () => { /* onclose follows */ };
  }

  function fallback() { setStatus("poll", "polling"); }

  function subscribe() {
    if (!state.ws || state.ws.readyState !== 1) return;
    const sub = { vehicles: ["*"] };
    if (state.stop) sub.stops = [state.stop.stop_id];
    state.ws.send(JSON.stringify({ subscribe: sub }));
  }

  function onVehicleEvent(s) {
    // a VehicleState record: keep the route label we already know
    const known = state.buses.get(s.vehicle_id);
    const v = {
      vehicle_id: s.vehicle_id, lat: s.lat, lon: s.lon, route_id: s.route_id, trip_id: s.trip_id,
      delay_s: s.delay == null ? null : Math.round(s.delay), flags: s.flags || [],
      occupancy: s.occupancy || null,
      route_short_name: known ? known.data.route_short_name : (s.route_id || ""),
    };
    placeBus(v);
  }

  let arrivalsTimer = null;
  function onArrivalsEvent(msg) {
    if (!state.stop) return;
    const hit = msg.type === "withdrawn" ||
      (msg.predictions || []).some((p) => p.stop_id === state.stop.stop_id);
    if (hit && !arrivalsTimer) {
      arrivalsTimer = setTimeout(() => { arrivalsTimer = null; loadArrivals(); }, 1000);
    }
  }

  // ----- a stop and its arrivals ----------------------------------------------------------
  async function selectStop(s) {
    state.stop = s;
    $("stop-panel").hidden = false;
    $("stop-name").textContent = s.name;
    $("stop-meta").textContent = `stop ${s.code || s.stop_id}`;
    $("arrivals").innerHTML = "<li class='meta'>loading…</li>";
    $("stop-alerts").innerHTML = "";
    subscribe();
    await Promise.all([loadArrivals(), loadAlerts(s)]);
  }

  // service alerts of the stop and its routes (GET /api/v1/alerts?stop=ID), shown above it
  async function loadAlerts(s) {
    try {
      const body = await getJSON(`/api/v1/alerts?stop=${encodeURIComponent(s.stop_id)}`);
      if (state.stop !== s) return;
      $("stop-alerts").innerHTML = body.alerts.map((a) =>
        `<li class="alert ${esc(a.severity.toLowerCase())}"><b>${esc(a.header)}</b>` +
        (a.description ? `<br><span>${esc(a.description)}</span>` : "") +
        (/^https?:\/\//.test(a.url) ? ` <a href="${esc(a.url)}" rel="noopener">more</a>` : "") +
        "</li>").join("");
    } catch (e) {
      $("stop-alerts").innerHTML = "";  // alerts add to the arrivals; their absence is no error
    }
  }

  async function loadArrivals() {
    const s = state.stop;
    if (!s) return;
    try {
      const body = await getJSON(`/api/v1/stops/${encodeURIComponent(s.stop_id)}/arrivals?minutes=90&limit=15`);
      if (state.stop !== s) return;
      syncClock(body.now);
      state.arrivals = body.arrivals;
      renderArrivals();
    } catch (e) {
      $("arrivals").innerHTML = `<li class="meta">${esc(e.message)}</li>`;
    }
  }

  function etaText(ms) {
    const s = Math.round(ms / 1000);
    if (s < 30) return "due";
    if (s < 3600) return `${Math.round(s / 60)} min`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} m`;
  }

  function whenOf(a) { return Date.parse(a.predicted || a.scheduled); }

  function renderArrivals() {
    const ul = $("arrivals");
    if (!state.arrivals.length) {
      ul.innerHTML = "<li class='meta'>No buses in the next 90 minutes.</li>";
      return;
    }
    ul.innerHTML = state.arrivals.map((a, i) => {
      const tags = a.live
        ? `<span class="tag live">live</span>${a.stale ? '<span class="tag stale">not reporting</span>' : ""}`
        : '<span class="tag sched">timetable</span>';
      const range = a.live && a.p10 && a.p90 ? ` (${a.p10.slice(11, 16)}–${a.p90.slice(11, 16)})` : "";
      const where = a.live && a.distance_m != null
        ? ` · ${a.distance_m >= 1000 ? (a.distance_m / 1000).toFixed(1) + " km" : a.distance_m + " m"}` +
          (a.stops_away != null ? `, ${a.stops_away} stop${a.stops_away === 1 ? "" : "s"} away` : "")
        : "";
      const delay = a.delay_s == null ? "" : a.delay_s >= 60 ? ` · ${Math.round(a.delay_s / 60)} min late`
        : a.delay_s <= -60 ? ` · ${Math.round(-a.delay_s / 60)} min early` : " · on time";
      const occ = a.occupancy ? ` · ${a.occupancy.replaceAll("_", " ").toLowerCase()}` : "";
      const color = a.route_color || "#1d3557";
      const time = (a.predicted || a.scheduled).slice(11, 16);
      return `<li class="arrival ${a.live ? "live" : "schedule"}" data-i="${i}">` +
        `<span class="badge" style="background:${esc(color)}">${esc(a.route_short_name || a.route_id)}</span>` +
        `<span class="head">${esc(a.headsign || "")}</span>` +
        `<span class="eta" data-when="${whenOf(a)}">${etaText(whenOf(a) - serverNow())}<small>${time}</small></span>` +
        `<span class="sub">${tags}${range}${where}${delay}${occ}</span></li>`;
    }).join("");
  }

  function tick() {
    for (const el of document.querySelectorAll("#arrivals .eta")) {
      el.firstChild.textContent = etaText(Number(el.dataset.when) - serverNow());
    }
  }

  // ----- search and near me ---------------------------------------------------------------
  let searchTimer = null;
  $("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 250);
  });

  async function search() {
    const q = $("search").value.trim();
    const ul = $("search-results");
    if (!q) { ul.innerHTML = ""; return; }
    try {
      const body = await getJSON(`/api/v1/stops?q=${encodeURIComponent(q)}&limit=10`);
      listStops(body.stops, (s) => `${s.routes.map((r) => r.short_name || r.route_id).join(", ")}`);
      if (!body.stops.length) ul.innerHTML = "<li class='meta'>No stop matches.</li>";
    } catch (e) {
      ul.innerHTML = `<li class="meta">${esc(e.message)}</li>`;
    }
  }

  function listStops(stops, extra) {
    const ul = $("search-results");
    ul.innerHTML = "";
    for (const s of stops) {
      const li = document.createElement("li");
      li.innerHTML = `<b>${esc(s.name)}</b> <span class="meta">${esc(extra(s))}</span>`;
      li.addEventListener("click", () => {
        map.setView([s.lat, s.lon], Math.max(map.getZoom(), 16));
        selectStop(s);
      });
      ul.appendChild(li);
    }
  }

  $("near-me").addEventListener("click", () => {
    if (state.pickNear) return setPickNear(false);
    if (!navigator.geolocation) return setPickNear(true);
    hint("Finding your location…");
    navigator.geolocation.getCurrentPosition(
      (pos) => nearby(pos.coords.latitude, pos.coords.longitude),
      () => setPickNear(true),
      { timeout: 5000, maximumAge: 60000 },
    );
  });

  function setPickNear(on) {
    state.pickNear = on;
    $("near-me").classList.toggle("active", on);
    hint(on ? "Location unavailable: click the map where you are." : "");
  }

  map.on("click", (ev) => {
    if (!state.pickNear) return;
    setPickNear(false);
    nearby(ev.latlng.lat, ev.latlng.lng);
  });

  async function nearby(lat, lon) {
    state.nearLayer.clearLayers();
    L.circleMarker([lat, lon], { radius: 7, color: "#e76f51", fillOpacity: 0.8 }).addTo(state.nearLayer);
    try {
      const body = await getJSON(`/api/v1/stops/nearby?lat=${lat.toFixed(6)}&lon=${lon.toFixed(6)}&radius=800&limit=8&arrivals=2`);
      syncClock(body.now);
      hint(body.stops.length ? `${body.stops.length} stops within a 800 m walk` : "No stop within a 800 m walk.");
      listStops(body.stops, (s) => {
        const next = s.arrivals.map((a) => `${a.route_short_name || a.route_id} ${etaText(whenOf(a) - serverNow())}`);
        return `${s.distance_m} m walk${next.length ? " · " + next.join(", ") : ""}`;
      });
      map.setView([lat, lon], Math.max(map.getZoom(), 16));
    } catch (e) {
      hint(e.message);
    }
  }

  start();
})();
