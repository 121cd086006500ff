/* smartbus · trip view ("follow this bus").
 *
 * Opened from a bus's popup or from an arrival row (app.js), it lists the trip's stops from the
 * bus's next stop on with their predicted times (GET /api/v1/trips/{trip_id}), counting down
 * every second, the chosen stop highlighted in the list and on the map, and the trip's path
 * drawn from its route (GET /api/v1/routes/{route_id}). It stays live: an "arrivals" event of
 * the trip on the socket reloads it, the bus's position events move it (and the map keeps the
 * bus in view), a bus that goes on to its next trip is followed onto it, and it is reloaded
 * every 15 s anyway. "updated N s ago" and "reported N s ago" say how fresh the figures are.
 */
(function () {
  "use strict";

  const app = window.smartbus;
  const map = window.smartbusMap;
  if (!app || !map) return;
  const $ = (id) => document.getElementById(id);
  const esc = app.esc;
  const layer = L.layerGroup().addTo(map);
  const routes = new Map(); // route_id -> route detail (stops and shapes), fetched once
  const trip = {
    id: null, vehicleId: null, stopId: null, data: null, loadedAt: 0, seq: 0, showPassed: false,
    gone: false, timer: null, reloadTimer: null, fit: false,
  };

  function hhmm(iso) { return iso ? iso.slice(11, 16) : ""; }

  async function open(tripId, opts) {
    const o = opts || {};
    trip.id = tripId;
    trip.vehicleId = o.vehicleId || null;
    trip.stopId = o.stopId || null;
    trip.data = null;
    trip.loadedAt = 0;
    trip.showPassed = false;
    trip.gone = false;
    trip.fit = true; // the first drawing frames the bus and the rest of its trip
    $("trip-panel").hidden = false;
    $("trip-title").textContent = "loading…";
    $("trip-meta").textContent = "";
    $("trip-stops").innerHTML = "";
    layer.clearLayers();
    for (const bus of app.buses.values()) app.restyle(bus);
    clearInterval(trip.timer);
    trip.timer = setInterval(load, 15000);
    await load();
    $("trip-panel").scrollIntoView({ block: "nearest" });
  }

  function close() {
    trip.id = trip.vehicleId = trip.stopId = null;
    trip.data = null;
    clearInterval(trip.timer);
    $("trip-panel").hidden = true;
    layer.clearLayers();
    for (const bus of app.buses.values()) app.restyle(bus);
  }

  async function load() {
    const id = trip.id;
    if (!id) return;
    const mine = ++trip.seq;
    try {
      const body = await app.getJSON(`/api/v1/trips/${encodeURIComponent(id)}`);
      if (mine !== trip.seq || trip.id !== id) return;
      trip.data = body;
      trip.loadedAt = Date.now();
      if (body.vehicle && !trip.vehicleId) trip.vehicleId = body.vehicle.vehicle_id;
      render();
      draw();
    } catch (e) {
      if (trip.id === id) $("trip-meta").textContent = e.message;
    }
  }

  function vehicleLine() {
    const d = trip.data;
    const bus = trip.vehicleId ? app.buses.get(trip.vehicleId) : null;
    const v = bus ? bus.data : d.vehicle;
    if (!v) {
      return `timetable only: no bus is tracked on this trip · service day ${esc(d.service_date)}`;
    }
    const reportMs = bus ? bus.reportMs : Date.parse(v.last_seen);
    const stale = trip.gone || (app.serverNow() - reportMs) / 1000 > app.STALE_S;
    const delay = app.delayText(v.delay_s != null ? v.delay_s : (d.vehicle || {}).delay_s);
    const occ = v.occupancy ? ` · ${esc(String(v.occupancy).replaceAll("_", " ").toLowerCase())}` : "";
    return `bus ${esc(v.vehicle_id)}${delay ? " · " + delay : ""}${occ} · ` +
      `<span class="${stale ? "warn" : ""}">reported <span class="ago" data-since="${reportMs}">` +
      `${app.ago(app.serverNow() - reportMs)}</span>${trip.gone ? ", no longer on the map" : ""}</span>`;
  }

  function render() {
    const d = trip.data;
    if (!d) return;
    const color = d.route_color || "#1d3557";
    $("trip-title").innerHTML = `<span class="badge" style="background:${esc(color)}">` +
      `${esc(d.route_short_name || d.route_id)}</span> → ${esc(d.headsign || "")}`;
    $("trip-meta").innerHTML = vehicleLine();
    const bus = trip.vehicleId ? app.buses.get(trip.vehicleId) : null;
    const v = bus ? bus.data : d.vehicle;
    const next = v && v.next_stop_sequence != null ? v.next_stop_sequence : null;
    const passed = next == null ? [] : d.stops.filter((s) => s.stop_sequence < next);
    const ahead = next == null ? d.stops : d.stops.filter((s) => s.stop_sequence >= next);
    const items = [];
    if (passed.length) {
      items.push(`<li class="passed-toggle" tabindex="0">${trip.showPassed ? "▾" : "▸"} ${passed.length} ` +
        `stop${passed.length === 1 ? "" : "s"} passed</li>`);
      if (trip.showPassed) items.push(...passed.map((s) => stopRow(s, true)));
    }
    items.push(...ahead.map((s) => stopRow(s, false)));
    if (!ahead.length) items.push("<li class='meta'>The bus has reached the end of this trip.</li>");
    $("trip-stops").innerHTML = items.join("");
    tick();
  }

  function stopRow(s, passed) {
    const when = s.predicted || s.scheduled;
    const ms = Date.parse(when);
    const late = s.predicted && s.scheduled ? Math.round((Date.parse(s.predicted) - Date.parse(s.scheduled)) / 60000) : 0;
    const lateText = late >= 1 ? `<span class="late">+${late}</span>` : late <= -1 ? `<span class="early">${late}</span>` : "";
    const chosen = s.stop_id === trip.stopId;
    const kind = passed ? "passed" : s.predicted ? "live" : "sched";
    const right = passed
      ? (s.observed ? `<small>${hhmm(s.observed)}</small>` : "")
      : `<span class="eta" data-when="${ms}"></span><small>${hhmm(when)} ${lateText}</small>`;
    return `<li class="trip-stop ${kind}${chosen ? " chosen" : ""}" data-stop="${esc(s.stop_id)}" tabindex="0"` +
      ` title="${s.predicted ? "predicted" : "timetable"} · scheduled ${hhmm(s.scheduled)}">` +
      `<span class="name">${esc(s.name)}${chosen ? ' <span class="tag you">your stop</span>' : ""}</span>` +
      `<span class="when">${right}</span></li>`;
  }

  async function routeDetail(routeId) {
    if (!routes.has(routeId)) {
      routes.set(routeId, app.getJSON(`/api/v1/routes/${encodeURIComponent(routeId)}`).catch(() => null));
    }
    return routes.get(routeId);
  }

  async function draw() {
    const d = trip.data;
    const id = trip.id;
    const route = await routeDetail(d.route_id);
    if (!route || trip.id !== id) return;
    layer.clearLayers();
    const color = d.route_color || "#1d3557";
    const dir = d.direction_id;
    const shapes = route.shape.features.filter((f) => dir == null || f.properties.direction_id == null || f.properties.direction_id === dir);
    L.geoJSON({ type: "FeatureCollection", features: shapes }, {
      style: () => ({ color: "#102a43", weight: 9, opacity: 0.7 }), interactive: false,
    }).addTo(layer);
    L.geoJSON({ type: "FeatureCollection", features: shapes }, {
      style: () => ({ color, weight: 5, opacity: 0.95 }), interactive: false,
    }).addTo(layer);
    const where = new Map();
    for (const direction of route.directions) for (const s of direction.stops) where.set(s.stop_id, s);
    const bus = trip.vehicleId ? app.buses.get(trip.vehicleId) : null;
    const v = bus ? bus.data : d.vehicle;
    const next = v && v.next_stop_sequence != null ? v.next_stop_sequence : -1;
    const frame = bus ? [bus.marker.getLatLng()] : [];
    for (const s of d.stops) {
      const at = where.get(s.stop_id);
      if (!at || s.stop_sequence < next) continue;
      frame.push(L.latLng(at.lat, at.lon));
      const chosen = s.stop_id === trip.stopId;
      L.circleMarker([at.lat, at.lon], {
        radius: chosen ? 9 : 4.5, color: chosen ? "#e76f51" : "#102a43", weight: chosen ? 4 : 2,
        fillColor: chosen ? "#ffd166" : "#fff", fillOpacity: 1,
      }).bindTooltip(`${esc(s.name)} · ${hhmm(s.predicted || s.scheduled)}`)
        .on("click", () => chooseStop(s.stop_id))
        .addTo(layer);
    }
    if (trip.fit && frame.length) {
      trip.fit = false;
      map.fitBounds(L.latLngBounds(frame), { padding: [40, 40], maxZoom: 16 });
    }
  }

  function chooseStop(stopId) {
    const d = trip.data;
    if (!d) return;
    trip.stopId = stopId;
    render();
    draw();
    app.getJSON(`/api/v1/stops/${encodeURIComponent(stopId)}`)
      .then((s) => { app.selectStop(s, { keepTrip: true }); map.panTo([s.lat, s.lon]); })
      .catch(() => {});
  }

  $("trip-stops").addEventListener("click", (ev) => {
    if (ev.target.closest(".passed-toggle")) { trip.showPassed = !trip.showPassed; render(); return; }
    const li = ev.target.closest("li.trip-stop");
    if (li) chooseStop(li.dataset.stop);
  });
  $("trip-stops").addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    if (ev.target.closest(".passed-toggle")) { trip.showPassed = !trip.showPassed; render(); return; }
    const li = ev.target.closest("li.trip-stop");
    if (li) chooseStop(li.dataset.stop);
  });
  $("trip-close").addEventListener("click", close);

  function reloadSoon() {
    if (trip.reloadTimer) return;
    trip.reloadTimer = setTimeout(() => { trip.reloadTimer = null; load(); }, 1000);
  }

  function onBus(bus) {
    const v = bus.data;
    if (!trip.id || v.vehicle_id !== trip.vehicleId) return;
    trip.gone = false;
    if (v.trip_id && v.trip_id !== trip.id) {
      // the bus went on to its next trip: follow it there
      trip.id = v.trip_id;
      reloadSoon();
      return;
    }
    if (trip.data) $("trip-meta").innerHTML = vehicleLine();
    const at = bus.marker.getLatLng();
    if (!map.getBounds().pad(-0.1).contains(at)) map.panTo(at);
    if (trip.data && v.next_stop_sequence !== (trip.lastNext || null)) {
      trip.lastNext = v.next_stop_sequence;
      render();
      draw();
    }
  }

  function onBusGone(id) {
    if (id !== trip.vehicleId || !trip.data) return;
    trip.gone = true;
    $("trip-meta").innerHTML = vehicleLine();
  }

  function onArrivals(msg) {
    if (trip.id && msg.trip_id === trip.id) reloadSoon();
  }

  function tick() {
    if (!trip.id) return;
    const now = app.serverNow();
    for (const el of document.querySelectorAll("#trip-stops .eta[data-when]")) {
      el.textContent = app.etaText(Number(el.dataset.when) - now);
    }
    if (trip.loadedAt) $("trip-updated").textContent = `updated ${app.ago(Date.now() - trip.loadedAt)}`;
  }

  window.smartbusTrip = {
    open, close, onBus, onBusGone, onArrivals, tick, state: trip,
    vehicleId: () => (trip.id ? trip.vehicleId : null),
  };
})();
