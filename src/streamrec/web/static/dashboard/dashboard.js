/* streamrec operator dashboard.
 *
 * The page itself is public; every number on it comes from /v1/admin/dashboard*, which needs the
 * admin key as "Authorization: Bearer KEY". The key lives in sessionStorage (this tab only).
 * The server reports cumulative counters; rates (events per second) are derived here from
 * successive samples, so the server keeps no per-dashboard state.
 */
(function () {
  "use strict";
  var KEY = "streamrec:admin_key";
  var POLL_MS = 2000;
  var WINDOW_S = 300; // the charts show the last five minutes
  var DAY_S = 86400; // the attribution charts: the last 24 h
  var samples = []; // {t, byType: {type: count}, lag: {group: total}}
  var charts = {};
  var timer = null;

  function $(sel) { return document.querySelector(sel); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function key() { try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; } }
  function setKey(v) { try { sessionStorage.setItem(KEY, v); } catch (e) { /* private mode */ } }
  function dropKey() { try { sessionStorage.removeItem(KEY); } catch (e) { /* private mode */ } }

  function api(path) {
    return fetch(path, { headers: { Authorization: "Bearer " + key(), Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) {
            var e = new Error(body.detail || body.error || body.message || "HTTP " + r.status);
            e.status = r.status;
            throw e;
          }
          return body;
        });
      });
  }

  function lock(state, text) {
    $("#board").hidden = true;
    var box = $("#locked");
    box.hidden = false;
    box.setAttribute("data-state", state);
    $("#locked-title").textContent = state === "wrong" ? "Wrong admin key"
      : state === "required" ? "Admin key required" : "Dashboard unavailable";
    if (text) $("#locked-text").textContent = text;
  }

  function unlock() { $("#locked").hidden = true; $("#board").hidden = false; }

  function fmt(n, digits) {
    if (n === null || n === undefined || !isFinite(n)) return "–";
    return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits === undefined ? 1 : digits });
  }

  function bytes(n) {
    if (!isFinite(n)) return "–";
    var units = ["B", "KB", "MB", "GB", "TB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return fmt(n, 1) + " " + units[i];
  }

  function tiles(d) {
    var ev = d.events || {}, lake = d.lake || {};
    var last = rates(samples.slice(-2));
    var total = Object.keys(last).reduce(function (a, k) { return a + last[k]; }, 0);
    var box = $("#tiles");
    box.replaceChildren();
    [["events accepted", fmt(ev.accepted_total, 0)], ["events rejected", fmt(ev.rejected_total, 0)],
     ["events / s now", fmt(total, 1)], ["lake files", fmt(lake.files, 0)],
     ["lake rows (events and served lists)", fmt(lake.rows, 0)], ["lake size", bytes(lake.bytes)],
     // the recipe large, its long version in the label: in the value it ran past the tile
     [(d.serving && d.serving.version) ? "serving " + d.serving.version : "serving",
      (d.serving && d.serving.recipe) ? d.serving.recipe : "–"]
    ].forEach(function (p) {
      var t = el("div", "tile");
      t.appendChild(el("div", "value", p[1]));
      t.appendChild(el("div", "label", p[0]));
      box.appendChild(t);
    });
  }

  /* Rates between the first and last sample given, per event type. */
  function rates(pair) {
    var out = {};
    if (pair.length < 2) return out;
    var a = pair[0], b = pair[pair.length - 1], dt = b.t - a.t;
    if (dt <= 0) return out;
    Object.keys(b.byType).forEach(function (k) {
      out[k] = Math.max(0, (b.byType[k] - (a.byType[k] || 0)) / dt);
    });
    return out;
  }

  function seriesData(names, valueAt) {
    var xs = [], cols = names.map(function () { return []; });
    for (var i = 1; i < samples.length; i++) {
      xs.push(samples[i].t);
      names.forEach(function (n, j) { cols[j].push(valueAt(i, n)); });
    }
    return [xs].concat(cols);
  }

  var PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
    "#db2777", "#4b5563", "#65a30d"];

  // The x axis shows at least `span` seconds ending at the newest point: uPlot fits the axis to
  // the data, so one point (a fresh server) spread it over years, future ones included, and two
  // seconds of samples gave sub-second tick labels.
  function xRange(host, span) {
    return function (u, min, max) {
      if (min === null || max === null) return [min, max];
      var lo = Math.min(min, max - span);
      host.dataset.xspan = String(max - lo); // the span shown, for tests and the curious
      return [lo, max];
    };
  }

  function lineChart(id, names, data, unit, span) {
    var host = document.getElementById(id);
    var sig = names.join("\u0000");
    var c = charts[id];
    if (c && c.sig === sig) { c.plot.setData(data); return; }
    if (c) c.plot.destroy();
    host.replaceChildren();
    if (!window.uPlot) { host.textContent = "chart library failed to load"; return; }
    var opts = {
      width: Math.max(300, host.clientWidth || 600), height: 220,
      series: [{}].concat(names.map(function (n, i) {
        return { label: n, stroke: PALETTE[i % PALETTE.length], width: 2,
          value: function (u, v) { return v === null ? "–" : fmt(v, 1) + " " + unit; } };
      })),
      axes: [{}, { size: 60 }],
      scales: { x: { time: true, range: xRange(host, span) } }
    };
    charts[id] = { sig: sig, plot: new window.uPlot(opts, data, host) };
  }

  function drawEvents() {
    var names = {};
    samples.forEach(function (s) { Object.keys(s.byType).forEach(function (k) { names[k] = 1; }); });
    var list = Object.keys(names).sort();
    if (!list.length) list = ["(no events yet)"];
    lineChart("chart-events", list, seriesData(list, function (i, n) {
      return rates([samples[i - 1], samples[i]])[n] || 0;
    }), "ev/s", WINDOW_S);
  }

  function drawLag(d) {
    var groups = {};
    (d.lag || []).forEach(function (r) { groups[r.group] = 1; });
    var list = Object.keys(groups).sort();
    if (!list.length) list = ["(no consumers)"];
    lineChart("chart-lag", list, seriesData(list, function (i, n) {
      return samples[i].lag[n] || 0;
    }), "events", WINDOW_S);
    rows("#table-lag", (d.lag || []).map(function (r) {
      return [r.group, r.shard, fmt(r.head, 0), fmt(r.committed, 0), fmt(r.lag, 0)];
    }));
  }

  function rows(tableSel, data) {
    var body = document.querySelector(tableSel + " tbody");
    body.replaceChildren();
    if (!data.length) {
      var tr = el("tr"), td = el("td", "empty", "no data yet");
      td.colSpan = 5; tr.appendChild(td); body.appendChild(tr); return;
    }
    data.forEach(function (cells) {
      var tr = el("tr");
      cells.forEach(function (c) { tr.appendChild(el("td", null, c)); });
      body.appendChild(tr);
    });
  }

  function metricsText(m) {
    return Object.keys(m || {}).sort().map(function (k) {
      var v = m[k];
      return k + " " + (typeof v === "number" ? fmt(v, 4) : v);
    }).join(", ");
  }

  function drawModels(d) {
    rows("#table-models", (d.models || []).map(function (m) {
      var metrics = m.error ? "unreadable: " + m.error : metricsText(m.metrics);
      return [m.version, m.recipe || "", metrics, (m.campaigns || []).join(", ")];
    }));
    rows("#table-routes", (d.routes || []).map(function (r) {
      return [r.route, fmt(r.count, 0), fmt(r.p50_ms, 2), fmt(r.p99_ms, 2)];
    }));
  }

  function itemList(sel, items, emptyText) {
    var ol = $(sel);
    ol.replaceChildren();
    (items || []).forEach(function (it) {
      var li = el("li");
      li.appendChild(el("span", "name", it.title || it.item_id));
      li.appendChild(el("span", "score", fmt(it.score, 2)));
      li.setAttribute("data-item-id", it.item_id);
      ol.appendChild(li);
    });
    if (!ol.children.length) ol.appendChild(el("li", "empty", emptyText || "no items yet"));
  }

  /* Experiments (GET /v1/experiments*) and what each campaign earns (GET /v1/metrics/attribution):
     fetched with every poll; the results are the server's, nothing is computed here. */
  function send(path, body) {
    return fetch(path, { method: "POST", body: JSON.stringify(body),
      headers: { Authorization: "Bearer " + key(), "Content-Type": "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          if (!r.ok) throw new Error(b.error || "HTTP " + r.status);
          return b;
        });
      });
  }

  function signed(v) { return (v > 0 ? "+" : "") + fmt(v, 4); }

  function versusControl(c) {
    if (!c) return "control";
    if (c.low === null) return signed(c.difference) + " (too few users)";
    return signed(c.difference) + " [" + signed(c.low) + ", " + signed(c.high) + "] p " + fmt(c.p_value, 3);
  }

  function promoteButton(name, variant) {
    var b = el("button", "promote", "Promote");
    b.setAttribute("data-variant", variant);
    b.addEventListener("click", function () {
      if (!window.confirm("Serve " + variant + "'s model and stop " + name + "?")) return;
      send("/v1/experiments/" + encodeURIComponent(name) + "/promote", { variant: variant })
        .then(drawExperiments, function (e) { window.alert("Promote failed: " + e.message); });
    });
    return b;
  }

  function experimentBox(x) {
    var r = x.results, box = el("div", "experiment");
    box.setAttribute("data-experiment", x.name);
    var decision = r.winner ? "winner: " + r.winner : "no winner yet";
    if (r.sample_ratio.mismatch) decision += " · sample ratio mismatch";
    box.appendChild(el("h3", null, x.name + " · " + x.metric + " · " + decision));
    var t = el("table"), head = el("tr");
    ["variant", "campaign", "users", x.metric === "revenue" ? "revenue / user" : "conversion rate",
      "vs control (95% always-valid)", ""].forEach(function (c) { head.appendChild(el("th", null, c)); });
    t.appendChild(head);
    r.variants.forEach(function (v) {
      var tr = el("tr"), rate = x.metric === "revenue" ? fmt(v.revenue_per_user, 2)
        : (v.conversion_rate === null ? "–" : fmt(100 * v.conversion_rate, 1) + "%");
      [v.name, v.campaign, fmt(v.users, 0), rate, versusControl(v.vs_control)].forEach(function (c) {
        tr.appendChild(el("td", null, c));
      });
      var action = el("td");
      if (x.status === "running") action.appendChild(promoteButton(x.name, v.name));
      tr.appendChild(action);
      t.appendChild(tr);
    });
    box.appendChild(t);
    box.appendChild(el("p", "muted", r.test));
    return box;
  }

  function drawExperiments() {
    api("/v1/experiments").then(function (d) {
      var running = (d.experiments || []).filter(function (x) { return x.status === "running"; });
      return Promise.all(running.map(function (x) {
        return api("/v1/experiments/" + encodeURIComponent(x.name));
      }));
    }).then(function (list) {
      var out = $("#experiments");
      out.replaceChildren();
      list.forEach(function (x) { out.appendChild(experimentBox(x)); });
      if (!list.length) out.appendChild(el("p", "muted", "no running experiment"));
    }, function () { /* shown again at the next poll */ });
  }

  function drawEarnings() {
    api("/v1/metrics/attribution?interval=15m").then(function (d) {
      var names = {}, starts = {};
      (d.intervals || []).forEach(function (r) { names[r.campaign] = 1; starts[r.start] = 1; });
      var list = Object.keys(names).sort(), xs = Object.keys(starts).map(Number).sort();
      if (!list.length) list = ["(no served recommendation attributed yet)"];
      var at = {};
      (d.intervals || []).forEach(function (r) { at[r.start + "|" + r.campaign] = r; });
      function cols(valueOf) {
        return [xs].concat(list.map(function (n) {
          return xs.map(function (x) { var r = at[x + "|" + n]; return r ? valueOf(r) : null; });
        }));
      }
      lineChart("chart-ctr", list, cols(function (r) { return r.ctr === null ? null : 100 * r.ctr; }),
        "% CTR", DAY_S);
      lineChart("chart-revenue", list, cols(function (r) { return r.revenue; }), "revenue", DAY_S);
    }, function () { /* shown again at the next poll */ });
  }

  function record(d) {
    var lag = {};
    (d.lag || []).forEach(function (r) { lag[r.group] = (lag[r.group] || 0) + (r.lag || 0); });
    samples.push({ t: d.time, byType: (d.events || {}).accepted_by_type || {}, lag: lag });
    var cutoff = d.time - WINDOW_S;
    while (samples.length > 2 && samples[0].t < cutoff) samples.shift();
  }

  function render(d) {
    record(d);
    unlock();
    tiles(d);
    drawEvents();
    drawLag(d);
    drawModels(d);
    drawExperiments();
    drawEarnings();
    itemList("#list-popular", d.popular);
    itemList("#list-trending", d.trending,
      "no recent activity: no item is rising in the last trending window");
    $("#updated").textContent = new Date(d.time * 1000).toLocaleTimeString();
    document.body.setAttribute("data-polls", String(Number(document.body.getAttribute("data-polls") || 0) + 1));
  }

  function failed(e) {
    if (e.status === 401) lock("required", e.message);
    else if (e.status === 403) lock("wrong", e.message);
    else lock("error", e.message);
    return e.status === 401 || e.status === 403; // stop polling: a key is needed first
  }

  function poll() {
    window.clearTimeout(timer);
    if (!key()) { lock("required"); return; }
    api("/v1/admin/dashboard").then(function (d) {
      render(d);
      timer = window.setTimeout(poll, POLL_MS);
    }, function (e) {
      if (!failed(e)) timer = window.setTimeout(poll, POLL_MS * 2);
    });
  }

  function lookUp(ev) {
    ev.preventDefault();
    var id = $("#user-input").value.trim();
    var out = $("#user-result");
    if (!id) return;
    out.replaceChildren(el("p", "muted", "looking up…"));
    api("/v1/admin/dashboard/users/" + encodeURIComponent(id)).then(function (d) {
      out.replaceChildren(userTable("History", d.history.items || [], ["item_id", "event_type", "count", "last_seen"]),
        userTable("Recommendations (" + ((d.recommendations.model || {}).recipe || "?") + ")",
          d.recommendations.items || [], ["item_id", "title", "score"]));
    }, function (e) {
      out.replaceChildren(el("p", "error", "Lookup failed: " + e.message));
      failed(e) || poll();
    });
  }

  function userTable(title, items, cols) {
    var box = el("div", "user-table");
    box.appendChild(el("h3", null, title + " · " + items.length));
    var t = el("table"), head = el("tr");
    cols.forEach(function (c) { head.appendChild(el("th", null, c)); });
    t.appendChild(head);
    items.forEach(function (it) {
      var tr = el("tr");
      cols.forEach(function (c) {
        var v = it[c];
        if (c === "last_seen" && typeof v === "number") v = new Date(v * 1000).toLocaleString();
        else if (typeof v === "number") v = fmt(v, 3);
        tr.appendChild(el("td", null, v === undefined ? "" : v));
      });
      t.appendChild(tr);
    });
    box.appendChild(t);
    return box;
  }

  function start() {
    $("#key-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var v = $("#key-input").value.trim();
      if (!v) return;
      setKey(v);
      $("#key-input").value = "";
      samples = [];
      poll();
    });
    $("#key-forget").addEventListener("click", function () { dropKey(); lock("required"); });
    $("#user-form").addEventListener("submit", lookUp);
    poll();
  }

  window.addEventListener("load", start);
})();
