/* smartbus · rider map page.
 *
 * Routes (GET /api/v1/routes.geojson) and stops (GET /api/v1/stops?bbox=) are vector layers, so
 * the map is useful when tiles cannot load. Buses come from GET /api/v1/vehicles (again every
 * 30 s, every 10 s without the socket) and move with WebSocket /ws events ({"subscribe":
 * {"vehicles": ["*"]}}). A bus is coloured by its delay (see the legend), turns grey when it
 * has not reported for STALE_S and leaves the map after HIDE_S. Clicking a stop lists its
 * arrivals (GET /api/v1/stops/{id}/arrivals), counting down every second and refreshed by the
 * socket; a bus or an arrival opens its trip (trip.js). While the planner picks an end, a click
 * on a stop sets that end to the stop. "Near me" uses the browser's location or, when refused,
 * a click on the map. Every time shown is the service's clock (the demo's runs on the feed's
 * dates). The Leaflet map is window.smartbusMap; shared helpers are on window.smartbus.
 */
(function () {
  "use strict";

  const STALE_S = 180; // the server's "not reporting" threshold (arrivals, GTFS-RT out)
  const HIDE_S = 300; // a bus silent this long leaves the map
  const LATE_S = 300; // colours, as the operator dashboard: late > 5 min, early > 1 min
  const EARLY_S = -60;

  // the page's settings travel in <meta> tags: the CSP allows no inline script
  const tileMeta = document.querySelector('meta[name="smartbus-tile-url"]');
  const cfg = { tileUrl: tileMeta ? tileMeta.content : "" };
  const $ = (id) => document.getElementById(id);
  const state = {
    clockOffsetMs: 0, // service clock (the simulator's in the demo) minus the browser's
    timezone: null,
    buses: new Map(), // vehicle_id -> {marker, data, reportMs, moves}
    stop: null, // selected stop {stop_id, name, lat, lon, ...}
    arrivals: [],
    arrivalsAt: 0, // browser time of the last arrivals answer
    ws: null,
    wsLive: false,
    pickNear: false,
    stopsLayer: null,
    nearLayer: null,
    stopMarkers: new Map(),
    listKind: null, // what #search-results shows: "search" or "near"
  };

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
  const highlightLayer = L.layerGroup().addTo(map);
  const busLayer = L.layerGroup().addTo(map);
  state.nearLayer = L.layerGroup().addTo(map);

  const legend = L.control({ position: "bottomleft" });
  legend.onAdd = () => {
    const div = L.DomUtil.create("div", "legend");
    div.innerHTML = "<b>Buses</b>" +
      '<span><i class="bus-dot ok"></i>on time</span>' +
      '<span><i class="bus-dot late"></i>late, 5+ min</span>' +
      '<span><i class="bus-dot early"></i>early, 1+ min</span>' +
      '<span><i class="bus-dot unknown"></i>no timetable match</span>' +
      `<span><i class="bus-dot stale"></i>no report for ${STALE_S / 60}+ min (gone after ${HIDE_S / 60})</span>`;
    return div;
  };
  legend.addTo(map);

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

  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min ago`;
  }

  function hint(text) { $("hint").textContent = text || ""; }

  function localTime(ms, withDate) {
    const opts = withDate
      ? { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }
      : { hour: "2-digit", minute: "2-digit" };
    if (state.timezone) opts.timeZone = state.timezone;
    try { return new Date(ms).toLocaleString("en-GB", opts); } catch (e) { return new Date(ms).toISOString(); }
  }

  async function start() {
    try {
      const conf = await getJSON("/api/v1/config");
      syncClock(conf.now);
      state.timezone = conf.timezone;
      if (conf.clock) $("clock").title = `service clock: ${conf.clock}`;
      if (conf.bounds) map.fitBounds(conf.bounds, { padding: [20, 20] });
    } catch (e) {
      hint(`Could not load the network: ${e.message}`);
    }
    drawRoutes();
    loadStops();
    map.on("moveend", loadStops);
    await refreshBuses();
    connect();
    setInterval(() => refreshBuses(), 10000);
    setInterval(tick, 1000);
    setInterval(() => { if (state.stop) loadArrivals(); }, 20000);
    tick();
  }

  async function drawRoutes() {
    try {
      const r = await fetch("/api/v1/routes.geojson");
      const geo = await r.json();
      L.geoJSON(geo, {
        style: (f) => ({ color: f.properties.color || "#457b9d", weight: 3, opacity: 0.6 }),
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
        m.on("click", (ev) => { L.DomEvent.stopPropagation(ev); stopClicked(s); });
        m.addTo(state.stopsLayer);
        state.stopMarkers.set(s.stop_id, m);
      }
    } catch (e) { /* keep the previous stops */ }
  }

  function stopClicked(s) {
    const planner = window.smartbusPlan;
    if (planner && planner.state.picking) {
      // the planner asked for an end: this stop is it
      planner.pick({ lat: s.lat, lon: s.lon, name: s.name, stop_id: s.stop_id });
      return;
    }
    selectStop(s);
  }

  function highlightStop(s) {
    highlightLayer.clearLayers();
    if (!s) return;
    L.circleMarker([s.lat, s.lon], {
      radius: 11, color: "#e76f51", weight: 4, fillColor: "#ffd166", fillOpacity: 0.6, interactive: false,
    }).addTo(highlightLayer);
  }

  // ----- buses --------------------------------------------------------------------------
  function busStatus(bus) {
    const v = bus.data;
    const age = (serverNow() - bus.reportMs) / 1000;
    if ((v.flags || []).includes("stale") || age > STALE_S) return "stale";
    if (v.delay_s == null || !v.trip_id) return "unknown";
    if (v.delay_s > LATE_S) return "late";
    if (v.delay_s < EARLY_S) return "early";
    return "ok";
  }

  function busIcon(v, status, followed) {
    const label = v.route_short_name || "•";
    return L.divIcon({
      className: `bus-marker ${status}${followed ? " followed" : ""}`,
      html: `<span data-vehicle="${esc(v.vehicle_id)}">${esc(label.slice(0, 4))}</span>`,
      iconSize: [26, 26],
    });
  }

  function delayText(d) {
    if (d == null) return "";
    if (d >= 60) return `${Math.round(d / 60)} min late`;
    if (d <= -60) return `${Math.round(-d / 60)} min early`;
    return "on time";
  }

  function busPopup(bus) {
    const v = bus.data;
    const delay = delayText(v.delay_s);
    const occ = v.occupancy ? `<br>${esc(v.occupancy.replaceAll("_", " ").toLowerCase())}` : "";
    const follow = v.trip_id
      ? `<br><button type="button" class="follow" data-follow-vehicle="${esc(v.vehicle_id)}">Follow this bus</button>`
      : "";
    return `<b>${esc(v.route_short_name || v.route_id || "bus")}</b> ${esc(v.headsign || "")}<br>` +
      `vehicle ${esc(v.vehicle_id)}${delay ? " · " + delay : ""}${occ}<br>` +
      `<span class="meta">last report <span class="ago" data-since="${bus.reportMs}">${ago(serverNow() - bus.reportMs)}</span></span>` +
      follow;
  }

  function restyle(bus) {
    const status = busStatus(bus);
    const followed = window.smartbusTrip && window.smartbusTrip.vehicleId() === bus.data.vehicle_id;
    const key = `${status}|${followed}|${bus.data.route_short_name}`;
    if (bus.iconKey !== key) {
      bus.marker.setIcon(busIcon(bus.data, status, followed));
      bus.marker.setZIndexOffset(followed ? 1000 : 500);
      bus.iconKey = key;
    }
  }

  function placeBus(v, reportMs) {
    let bus = state.buses.get(v.vehicle_id);
    if (!bus) {
      const marker = L.marker([v.lat, v.lon], { icon: busIcon(v, "unknown", false), keyboard: false, zIndexOffset: 500 });
      bus = { marker, data: v, moves: 0, reportMs, iconKey: "" };
      marker.bindPopup(() => busPopup(bus));
      marker.addTo(busLayer);
      state.buses.set(v.vehicle_id, bus);
    } else {
      if (reportMs < bus.reportMs) return bus; // an older report than the one shown
      const before = bus.marker.getLatLng();
      if (before.lat !== v.lat || before.lng !== v.lon) bus.moves += 1;
      bus.marker.setLatLng([v.lat, v.lon]);
      bus.data = Object.assign({}, bus.data, v);
      bus.reportMs = reportMs;
    }
    restyle(bus);
    if (window.smartbusTrip) window.smartbusTrip.onBus(bus);
    return bus;
  }

  function dropBus(id) {
    const bus = state.buses.get(id);
    if (!bus) return;
    busLayer.removeLayer(bus.marker);
    state.buses.delete(id);
    if (window.smartbusTrip) window.smartbusTrip.onBusGone(id);
  }

  async function refreshBuses() {
    if (state.wsLive && Date.now() - (state.busesAt || 0) < 29000) return; // the socket keeps them
    try {
      const body = await getJSON("/api/v1/vehicles");
      syncClock(body.now);
      state.busesAt = Date.now();
      const seen = new Set();
      for (const v of body.vehicles) {
        const reportMs = Date.parse(v.last_seen);
        if ((serverNow() - reportMs) / 1000 > HIDE_S) continue;
        placeBus(v, reportMs);
        seen.add(v.vehicle_id);
      }
      for (const id of [...state.buses.keys()]) if (!seen.has(id)) dropBus(id);
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
    // a VehicleState record: keep the route label and headsign we already know for its trip
    const known = state.buses.get(s.vehicle_id);
    const sameTrip = known && known.data.trip_id === s.trip_id;
    const v = {
      vehicle_id: s.vehicle_id, lat: s.lat, lon: s.lon, route_id: s.route_id, trip_id: s.trip_id,
      delay_s: s.delay == null ? null : Math.round(s.delay), flags: s.flags || [],
      occupancy: s.occupancy || null, bearing: s.bearing, next_stop_sequence: s.next_stop_sequence,
      route_short_name: known && known.data.route_id === s.route_id ? known.data.route_short_name : (s.route_id || ""),
      headsign: sameTrip ? known.data.headsign : null,
    };
    placeBus(v, s.timestamp * 1000);
  }

  let arrivalsTimer = null;
  function onArrivalsEvent(msg) {
    if (window.smartbusTrip) window.smartbusTrip.onArrivals(msg);
    if (!state.stop) return;
    const hit = msg.type === "withdrawn" ||
      (msg.predictions || []).some((p) => p.stop_id === state.stop.stop_id);
    if (hit && !arrivalsTimer) {
      arrivalsTimer = setTimeout(() => { arrivalsTimer = null; loadArrivals(); }, 1000);
    }
  }

  // ----- a stop and its arrivals ----------------------------------------------------------
  async function selectStop(s, opts) {
    state.stop = s;
    highlightStop(s);
    $("stop-panel").hidden = false;
    $("stop-name").textContent = s.name;
    $("stop-meta").textContent = `stop ${s.code || s.stop_id}`;
    $("arrivals").innerHTML = "<li class='meta'>loading…</li>";
    $("stop-alerts").innerHTML = "";
    $("arrivals-updated").textContent = "";
    state.arrivalsAt = 0;
    subscribe();
    if (!(opts && opts.keepTrip) && window.smartbusTrip) window.smartbusTrip.close();
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

  function closeStop() {
    state.stop = null;
    state.arrivals = [];
    highlightStop(null);
    $("stop-panel").hidden = true;
    subscribe();
  }

  async function loadArrivals() {
    const s = state.stop;
    if (!s) return;
    try {
      const body = await getJSON(`/api/v1/stops/${encodeURIComponent(s.stop_id)}/arrivals?minutes=90&limit=15`);
      if (state.stop !== s) return;
      syncClock(body.now);
      state.arrivals = body.arrivals;
      state.arrivalsAt = Date.now();
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
      const delay = a.delay_s == null ? "" : ` · ${delayText(a.delay_s)}`;
      const occ = a.occupancy ? ` · ${a.occupancy.replaceAll("_", " ").toLowerCase()}` : "";
      const color = a.route_color || "#1d3557";
      const time = (a.predicted || a.scheduled).slice(11, 16);
      return `<li class="arrival ${a.live ? "live" : "schedule"}" data-i="${i}" tabindex="0" title="show this trip">` +
        `<span class="badge" style="background:${esc(color)}">${esc(a.route_short_name || a.route_id)}</span>` +
        `<span class="head">${esc(a.headsign || "")}</span>` +
        `<span class="eta" data-when="${whenOf(a)}">${etaText(whenOf(a) - serverNow())}<small>${time}</small></span>` +
        `<span class="sub">${tags}${range}${where}${delay}${occ}</span></li>`;
    }).join("");
  }

  function openArrival(li) {
    const a = state.arrivals[Number(li.dataset.i)];
    if (!a || !window.smartbusTrip) return;
    window.smartbusTrip.open(a.trip_id, {
      vehicleId: a.live ? a.vehicle_id : null, stopId: state.stop && state.stop.stop_id,
    });
  }
  $("arrivals").addEventListener("click", (ev) => {
    const li = ev.target.closest("li.arrival");
    if (li) openArrival(li);
  });
  $("arrivals").addEventListener("keydown", (ev) => {
    const li = ev.target.closest("li.arrival");
    if (li && ev.key === "Enter") openArrival(li);
  });
  $("stop-close").addEventListener("click", closeStop);
  for (const end of ["from", "to"]) {
    $(`stop-${end}`).addEventListener("click", () => {
      const s = state.stop;
      if (s && window.smartbusPlan) window.smartbusPlan.setEndAndPlan(end, { lat: s.lat, lon: s.lon, name: s.name, stop_id: s.stop_id });
    });
  }
  document.addEventListener("click", (ev) => {
    const button = ev.target.closest("[data-follow-vehicle]");
    if (!button || !window.smartbusTrip) return;
    const bus = state.buses.get(button.dataset.followVehicle);
    if (bus && bus.data.trip_id) {
      map.closePopup();
      window.smartbusTrip.open(bus.data.trip_id, { vehicleId: bus.data.vehicle_id });
    }
  });

  function tick() {
    const now = serverNow();
    for (const el of document.querySelectorAll("#arrivals .eta")) {
      el.firstChild.textContent = etaText(Number(el.dataset.when) - now);
    }
    for (const el of document.querySelectorAll(".ago[data-since]")) {
      el.textContent = ago(now - Number(el.dataset.since));
    }
    if (state.arrivalsAt) {
      $("arrivals-updated").textContent = `updated ${ago(Date.now() - state.arrivalsAt)}`;
    }
    for (const [id, bus] of state.buses) {
      if ((now - bus.reportMs) / 1000 > HIDE_S) dropBus(id); else restyle(bus);
    }
    $("clock").textContent = localTime(now, true);
    if (window.smartbusTrip) window.smartbusTrip.tick();
  }

  // ----- search and near me ---------------------------------------------------------------
  let searchTimer = null;
  let searchSeq = 0;
  $("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 250);
  });

  async function search() {
    const q = $("search").value.trim();
    const ul = $("search-results");
    const mine = ++searchSeq;
    if (!q) {
      // an empty box clears a search's results, never the stops found near you
      if (state.listKind === "search") { ul.innerHTML = ""; state.listKind = null; }
      return;
    }
    try {
      const body = await getJSON(`/api/v1/stops?q=${encodeURIComponent(q)}&limit=10`);
      if (mine !== searchSeq) return; // a newer search or "near me" took the list
      state.listKind = "search";
      state.nearLayer.clearLayers();
      listStops(body.stops, (s) => `${s.routes.map((r) => r.short_name || r.route_id).join(", ")}`);
      if (!body.stops.length) ul.innerHTML = "<li class='meta'>No stop matches.</li>";
    } catch (e) {
      if (mine !== searchSeq) return;
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
        selectStop(s); // its panel offers "From here" / "To here" to the planner
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
    clearTimeout(searchTimer); // a pending search of the box must not replace these results
    const mine = ++searchSeq;
    state.nearLayer.clearLayers();
    L.circleMarker([lat, lon], { radius: 7, color: "#e76f51", fillOpacity: 0.8 }).addTo(state.nearLayer);
    try {
      const body = await getJSON(`/api/v1/stops/nearby?lat=${lat.toFixed(6)}&lon=${lon.toFixed(6)}&radius=800&limit=8&arrivals=2`);
      if (mine !== searchSeq) return;
      syncClock(body.now);
      state.listKind = "near";
      hint(body.stops.length ? `${body.stops.length} stops within a 800 m walk` : "No stop within a 800 m walk.");
      listStops(body.stops, (s) => {
        const next = s.arrivals.map((a) => `${a.route_short_name || a.route_id} ${etaText(whenOf(a) - serverNow())}`);
        return `${s.distance_m} m walk${next.length ? " · " + next.join(", ") : ""}`;
      });
      if (!body.stops.length) $("search-results").innerHTML = "";
      map.setView([lat, lon], Math.max(map.getZoom(), 16));
    } catch (e) {
      hint(e.message);
    }
  }

  Object.assign(state, {
    serverNow, getJSON, esc, ago, etaText, delayText, localTime, selectStop, highlightStop,
    busStatus, restyle, nearby, STALE_S, HIDE_S,
  });
  window.smartbus = state;
  start();
})();
