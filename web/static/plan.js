/* smartbus · "plan a trip" panel.
 *
 * Fills <div id="plan-panel"> on the map page. Origin and destination come from a stop-name
 * search (GET /api/v1/plan/stops?q=), from a stop's "From here" / "To here", or from clicks on
 * the Leaflet map the page exposes as window.smartbusMap (after pressing a "pick on the map"
 * button, so other map clicks stay the page's; a click on a stop marker then picks that stop).
 * "When" empty plans for now by the server's clock. GET /api/v1/plan answers with up to three itineraries, drawn on the map
 * (the chosen one bold, walking dashed) and listed leg by leg. No build step, no framework.
 * Walks follow the streets when the server has a street map (each with its turn-by-turn
 * steps); otherwise a note says they are straight-line estimates. A "wheelchair" box asks for
 * step-free journeys on accessible stops and trips.
 */
(function () {
  "use strict";

  const panel = document.getElementById("plan-panel");
  if (!panel) return;

  const state = { from: null, to: null, picking: null, layer: null, markers: {}, result: null, chosen: 0 };

  // ----- markup ---------------------------------------------------------------------------
  const css = document.createElement("style");
  css.textContent = `
    #plan-panel { font: 14px system-ui, sans-serif; }
    #plan-panel h2 { font-size: 1.05em; margin: .3em 0 .5em; }
    #plan-panel .row { display: flex; gap: .3em; margin-bottom: .35em; align-items: center; position: relative; }
    #plan-panel .row label { width: 3.2em; color: #555; }
    #plan-panel input[type=text] { flex: 1; min-width: 0; padding: .25em .4em; }
    #plan-panel button { cursor: pointer; }
    #plan-panel button.pick.active { background: #ffd166; }
    #plan-panel .suggest { position: absolute; left: 3.5em; right: 2.5em; top: 100%; z-index: 1000;
      background: #fff; border: 1px solid #ccc; list-style: none; margin: 0; padding: 0; max-height: 14em; overflow: auto; }
    #plan-panel .suggest li { padding: .25em .4em; cursor: pointer; }
    #plan-panel .suggest li:hover, #plan-panel .suggest li.on { background: #e8f0fe; }
    #plan-panel .itin { border: 1px solid #ddd; border-radius: .4em; padding: .4em .5em; margin: .4em 0; cursor: pointer; }
    #plan-panel .itin.chosen { border-color: #1d3557; box-shadow: 0 0 0 1px #1d3557; }
    #plan-panel .itin .head { font-weight: 600; }
    #plan-panel .itin .meta { color: #555; font-size: .9em; }
    #plan-panel .itin ol { margin: .3em 0 0; padding-left: 1.2em; font-size: .9em; }
    #plan-panel .badge { display: inline-block; padding: 0 .35em; border-radius: .3em; color: #fff; background: #1d3557; font-weight: 600; }
    #plan-panel .live { color: #2a9d8f; font-weight: 600; }
    #plan-panel .error { color: #b00020; }
    #plan-panel .note { color: #555; font-size: .9em; }
    #plan-panel ol.steps { list-style: none; padding-left: .6em; margin: .1em 0 .2em; color: #444; font-size: .92em; }
    #plan-panel ol.steps li::before { content: "↳ "; color: #888; }
    #plan-panel .walking-note { color: #8a5a00; font-size: .88em; margin: .2em 0; }
  `;
  document.head.appendChild(css);

  panel.innerHTML = `
    <h2>Plan a trip</h2>
    <form autocomplete="off">
      <div class="row"><label for="plan-from">From</label><input id="plan-from" type="text" placeholder="stop name, or pick on the map">
        <button type="button" class="pick" data-end="from" title="pick on the map">&#9673;</button><ul class="suggest" hidden></ul></div>
      <div class="row"><label for="plan-to">To</label><input id="plan-to" type="text" placeholder="stop name, or pick on the map">
        <button type="button" class="pick" data-end="to" title="pick on the map">&#9673;</button><ul class="suggest" hidden></ul></div>
      <div class="row"><label for="plan-when">When</label><input id="plan-when" type="datetime-local">
        <select id="plan-mode"><option value="depart">leave at</option><option value="arrive">arrive by</option></select></div>
      <div class="row"><label></label><button type="submit">Plan</button> <button type="button" id="plan-swap" title="swap">&#8645;</button>
        <button type="button" id="plan-clear">clear</button></div>
    </form>
    <div id="plan-status" class="note" aria-live="polite"></div>
    <div id="plan-results"></div>`;

  const $ = (sel) => panel.querySelector(sel);
  addWheelchairOption();
  const inputs = { from: $("#plan-from"), to: $("#plan-to") };
  const statusEl = $("#plan-status");
  const resultsEl = $("#plan-results");

  function setStatus(text, isError) {
    statusEl.textContent = text || "";
    statusEl.className = isError ? "error" : "note";
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else if (k === "style") e.style.cssText = v; else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  const hhmm = (iso) => iso.slice(11, 16);
  const fmtCoord = (p) => `${p.lat.toFixed(5)},${p.lon.toFixed(5)}`;

  // ----- the map (may appear after this script runs) ----------------------------------------
  function map() { return window.smartbusMap || null; }

  function whenMapReady(fn, tries) {
    if (map()) { fn(map()); return; }
    if ((tries || 0) > 100) return; // ~20 s: the page has no map; the panel still lists journeys
    setTimeout(() => whenMapReady(fn, (tries || 0) + 1), 200);
  }

  whenMapReady((m) => {
    // map clicks count only after a "pick on the map" button: the page uses clicks too
    m.on("click", (ev) => {
      if (!state.picking) return;
      pick({ lat: ev.latlng.lat, lon: ev.latlng.lng, name: "" });
    });
  });

  // the end being picked is this place (a map click, or a stop marker: the map page calls
  // this when a stop is clicked while picking)
  function pick(place) {
    const end = state.picking;
    if (!end) return;
    setEnd(end, place);
    // having picked the origin, the next click picks the destination if it is still empty
    state.picking = end === "from" && !state.to ? "to" : null;
    updatePickButtons();
    setStatus(state.picking ? 'now click the map or a stop to set "to"' : "");
    if (state.from && state.to) plan();
  }

  // "From here" / "To here" on a stop: set that end, plan when both are known
  function setEndAndPlan(end, place) {
    setEnd(end, place);
    state.picking = null;
    updatePickButtons();
    if (state.from && state.to) plan();
    else setStatus(`now choose "${end === "from" ? "to" : "from"}": a stop name, a stop on the map, or a point`);
    panel.scrollIntoView({ block: "nearest" });
  }

  function setEnd(end, place) {
    state[end] = place;
    inputs[end].value = place.name || `point ${fmtCoord(place)}`;
    const m = map();
    if (!m || !window.L) return;
    if (state.markers[end]) m.removeLayer(state.markers[end]);
    const marker = L.circleMarker([place.lat, place.lon], {
      radius: 8, weight: 3, color: end === "from" ? "#2a9d8f" : "#e63946", fillOpacity: 0.9,
    }).bindTooltip(end === "from" ? "from" : "to").addTo(m);
    state.markers[end] = marker;
  }

  function updatePickButtons() {
    panel.querySelectorAll("button.pick").forEach((b) => b.classList.toggle("active", b.dataset.end === state.picking));
  }

  panel.querySelectorAll("button.pick").forEach((b) => b.addEventListener("click", () => {
    state.picking = state.picking === b.dataset.end ? null : b.dataset.end;
    updatePickButtons();
    setStatus(state.picking ? `click the map or a stop to set "${state.picking}"` : "");
  }));

  // ----- stop-name search -----------------------------------------------------------------------
  for (const end of ["from", "to"]) {
    const input = inputs[end];
    const list = input.parentElement.querySelector(".suggest");
    let timer = null;
    let seq = 0;
    input.addEventListener("input", () => {
      state[end] = null;
      clearTimeout(timer);
      const q = input.value.trim();
      if (q.length < 2) { list.hidden = true; return; }
      timer = setTimeout(async () => {
        const mine = ++seq;
        try {
          const r = await fetch(`/api/v1/plan/stops?q=${encodeURIComponent(q)}&limit=8`);
          const body = await r.json();
          if (mine !== seq) return;
          list.replaceChildren(...(body.stops || []).map((s) => {
            const li = el("li", {}, s.name, s.code ? el("span", { class: "note" }, ` · ${s.code}`) : null);
            li.addEventListener("mousedown", (ev) => {
              ev.preventDefault();
              setEnd(end, { lat: s.lat, lon: s.lon, name: s.name });
              list.hidden = true;
              const m = map();
              if (m) m.panTo([s.lat, s.lon]);
            });
            return li;
          }));
          list.hidden = !(body.stops || []).length;
        } catch (e) { list.hidden = true; }
      }, 200);
    });
    input.addEventListener("blur", () => setTimeout(() => { list.hidden = true; }, 150));
  }

  // ----- planning -----------------------------------------------------------------------------
  const form = panel.querySelector("form");
  form.addEventListener("submit", (ev) => { ev.preventDefault(); plan(); });
  $("#plan-swap").addEventListener("click", () => {
    const f = state.from; const t = state.to;
    if (t) setEnd("from", t); else { state.from = null; inputs.from.value = ""; }
    if (f) setEnd("to", f); else { state.to = null; inputs.to.value = ""; }
    if (state.from && state.to) plan();
  });
  $("#plan-clear").addEventListener("click", () => {
    const m = map();
    for (const end of ["from", "to"]) {
      state[end] = null; inputs[end].value = "";
      if (m && state.markers[end]) m.removeLayer(state.markers[end]);
      state.markers[end] = null;
    }
    clearDrawing(); resultsEl.replaceChildren(); setStatus("");
  });

  async function plan() {
    if (!state.from || !state.to) {
      setStatus("choose where from and where to (stop name or map click)", true);
      return;
    }
    const params = new URLSearchParams({ from: fmtCoord(state.from), to: fmtCoord(state.to) });
    const when = $("#plan-when").value;
    if (when) params.set("time", when.length === 16 ? `${when}:00` : when);
    if ($("#plan-mode").value === "arrive") params.set("arrive_by", "true");
    if ($("#plan-wheelchair") && $("#plan-wheelchair").checked) params.set("wheelchair", "true");
    setStatus("planning...");
    let body;
    try {
      const r = await fetch(`/api/v1/plan?${params}`);
      body = await r.json();
      if (!r.ok) { setStatus(body.detail || body.title || `error ${r.status}`, true); clearDrawing(); resultsEl.replaceChildren(); return; }
    } catch (e) {
      setStatus(`could not reach the planner: ${e}`, true);
      return;
    }
    state.result = body; state.chosen = 0;
    const n = body.itineraries.length;
    const notes = (body.notes || []).join("; ");
    // with "When" empty the server plans for its now: say which (the demo's is the feed's date)
    const at = when ? "" : ` · leaving now, ${body.time.slice(0, 10)} ${hhmm(body.time)}`;
    setStatus(n ? `${n} way${n > 1 ? "s" : ""} to go${at}${body.partial ? " (search cut short)" : ""}${notes ? ` · ${notes}` : ""}`
                : (notes || "no journey found") + at, !n);
    render();
  }

  function legLine(leg) {
    if (leg.mode === "walk") {
      const mins = leg.minutes < 1 ? "<1" : Math.round(leg.minutes);
      return el("li", {}, `${hhmm(leg.start)} walk ${leg.metres} m (${mins} min) to ${leg.to.name}`,
        walkDetails(leg));
    }
    const color = leg.route.color ? `#${leg.route.color}` : "#1d3557";
    return el("li", {},
      `${hhmm(leg.start)} `,
      el("span", { class: "badge", style: `background:${color}` }, leg.route.short_name || leg.route.id),
      ` towards ${leg.headsign || "?"} from ${leg.board.name}, get off at ${leg.alight.name} ${hhmm(leg.end)}`,
      ` (${leg.intermediate_stops.length + 1} stops)`,
      leg.live ? el("span", { class: "live" }, ` · live${leg.vehicle_id ? `, bus ${leg.vehicle_id}` : ""}`) : null);
  }

  function render() {
    const body = state.result;
    resultsEl.replaceChildren(...body.itineraries.map((it, i) => {
      const rides = it.legs.filter((l) => l.mode !== "walk").map((l) => l.route.short_name || l.route.id);
      const box = el("div", { class: `itin${i === state.chosen ? " chosen" : ""}`, tabindex: "0" },
        el("div", { class: "head" }, `${hhmm(it.departure)} → ${hhmm(it.arrival)} · ${Math.round(it.duration_min)} min`),
        el("div", { class: "meta" },
          `${rides.length ? rides.join(" › ") : "walk"} · ${it.transfers} transfer${it.transfers === 1 ? "" : "s"} · ${it.walk_metres} m walking`,
          it.alternative ? " · later option" : ""),
        i === state.chosen ? el("ol", {}, ...it.legs.map(legLine)) : null,
        i === state.chosen ? walkingNote(it) : null);
      const choose = () => { state.chosen = i; render(); };
      box.addEventListener("click", choose);
      box.addEventListener("keydown", (ev) => { if (ev.key === "Enter") choose(); });
      return box;
    }));
    draw();
  }

  function clearDrawing() {
    const m = map();
    if (m && state.layer) m.removeLayer(state.layer);
    state.layer = null;
  }

  function draw() {
    clearDrawing();
    const m = map();
    if (!m || !window.L || !state.result) return;
    const chosen = state.chosen;
    // a dark casing under the chosen itinerary's rides, so it stands out from route lines
    const casing = L.geoJSON({ type: "FeatureCollection", features: state.result.geojson.features.filter(
      (f) => f.properties.itinerary === chosen && f.properties.mode !== "walk") }, {
      style: () => ({ color: "#102a43", weight: 11, opacity: 0.85 }), interactive: false,
    });
    const layer = L.geoJSON(state.result.geojson, {
      filter: (f) => true,
      style: (f) => {
        const p = f.properties;
        const on = p.itinerary === chosen;
        const walk = p.mode === "walk";
        return {
          color: walk ? "#555" : (p.color ? `#${p.color}` : "#1d3557"),
          weight: on ? (walk ? 4 : 6) : 3,
          opacity: on ? 0.95 : 0.3,
          dashArray: walk ? "4 6" : null,
        };
      },
      onEachFeature: (f, lyr) => {
        const p = f.properties;
        lyr.bindTooltip(p.mode === "walk" ? "walk" : `bus ${p.route}`, { sticky: true });
        lyr.on("click", () => { state.chosen = p.itinerary; render(); });
      },
    });
    // the chosen itinerary on top
    layer.eachLayer((lyr) => { if (lyr.feature.properties.itinerary === chosen && lyr.bringToFront) setTimeout(() => lyr.bringToFront(), 0); });
    const group = L.layerGroup([casing, layer]).addTo(m);
    state.layer = group;
    const bounds = L.geoJSON({ type: "FeatureCollection",
      features: state.result.geojson.features.filter((f) => f.properties.itinerary === chosen) }).getBounds();
    if (bounds.isValid()) m.fitBounds(bounds, { padding: [30, 30], maxZoom: 16 });
  }

  // ----- walking on the streets (issue #16) -------------------------------------------------
  function addWheelchairOption() {
    const row = el("div", { class: "row" }, el("label", {}),
      el("label", { for: "plan-wheelchair", style: "width:auto" },
        el("input", { id: "plan-wheelchair", type: "checkbox" }), " wheelchair (step-free, accessible stops and buses)"));
    const buttons = panel.querySelector("#plan-swap").parentElement;
    buttons.parentElement.insertBefore(row, buttons);
  }

  function walkDetails(leg) {
    // a street walk lists its turn-by-turn steps; a straight-line estimate says what it is
    if (!leg.on_streets) return el("span", { class: "note" }, " (straight-line estimate)");
    if (!leg.steps || !leg.steps.length) return null;
    return el("ol", { class: "steps" }, ...leg.steps.map((s) => el("li", {}, s.text)));
  }

  function walkingNote(it) {
    if (it.walking === "streets") return null;
    const text = it.walking === "mixed"
      ? "Some walks are straight-line estimates: part of the way is off the street map."
      : "Walks are straight-line estimates (x1.3): the server has no street map.";
    return el("div", { class: "walking-note" }, text);
  }

  window.smartbusPlan = { plan, setEnd, setEndAndPlan, pick, state };
})();
