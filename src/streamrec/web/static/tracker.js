/*! streamrec tracker: dependency-free event tracking for streamrec (MIT).
 *
 * <script src="https://HOST/tracker.js" data-tracking-id="TID" async></script>
 *
 * streamrec.track(eventType, itemId, {value, properties, recommendationId, impression})
 * streamrec.identify(userId) -> Promise   streamrec.reset()   streamrec.flush() -> Promise
 * streamrec.impression(element | {recommendationId, itemIds})
 *
 * Events are queued and sent in batches: after `data-flush-ms` (1000) or as soon as
 * `data-batch-size` (20) events wait. A failed send is retried with exponential backoff; on page
 * hide whatever waits is handed to navigator.sendBeacon, which the browser delivers even as the
 * page goes away. Calls made before the script loads (window.streamrec = [[name, ...args]]) are
 * replayed in order.
 */
(function (w, d) {
  "use strict";
  if (w.streamrec && w.streamrec.version) return; // loaded twice: keep the first instance

  var script = d.currentScript || d.querySelector("script[data-tracking-id]");
  var attr = function (name, fallback) {
    var v = script && script.getAttribute(name);
    return v === null || v === undefined || v === "" ? fallback : v;
  };
  var trackingId = attr("data-tracking-id", "");
  var endpoint = attr("data-endpoint", script && script.src ? new URL(script.src).origin : "");
  var flushMs = Number(attr("data-flush-ms", 1000));
  var batchSize = Number(attr("data-batch-size", 20));
  var MAX_QUEUE = 1000; // a bound so an offline tab cannot grow without limit
  var MAX_PER_REQUEST = 500; // the API's limit per request
  var MAX_BACKOFF_MS = 30000;
  var KEY_ANON = "streamrec:anonymous_id";
  var KEY_USER = "streamrec:user_id";

  var memory = {};
  var store = {
    get: function (k) {
      try { return w.localStorage.getItem(k); } catch (e) { return memory[k] || null; }
    },
    set: function (k, v) {
      try { w.localStorage.setItem(k, v); } catch (e) { memory[k] = v; }
    },
    del: function (k) {
      try { w.localStorage.removeItem(k); } catch (e) { delete memory[k]; }
    }
  };

  function uuid() {
    var c = w.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    var b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); });
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }

  function anonymousId() {
    var id = store.get(KEY_ANON);
    if (!id) { id = "anon-" + uuid(); store.set(KEY_ANON, id); }
    return id;
  }

  var queue = [];
  var timer = null;
  var inFlight = null;
  var failures = 0;
  var retryAt = 0;
  var widgets = {}; // item id -> {recommendationId, itemIds} of the last widget that showed it
  var stats = { sent: 0, batches: 0, beacons: 0, failures: 0, dropped: 0 };

  function userId() { return store.get(KEY_USER) || anonymousId(); }

  function schedule(delay) {
    if (timer !== null) return;
    timer = w.setTimeout(function () { timer = null; flush(); }, delay);
  }

  function enqueue(event) {
    queue.push(event);
    if (queue.length > MAX_QUEUE) stats.dropped += queue.splice(0, queue.length - MAX_QUEUE).length;
    if (queue.length >= batchSize && !inFlight && Date.now() >= retryAt) {
      w.clearTimeout(timer); timer = null; flush();
    } else {
      schedule(Math.max(flushMs, retryAt - Date.now()));
    }
  }

  function track(eventType, itemId, opts) {
    opts = opts || {};
    if (!itemId) throw new Error("streamrec.track: itemId is required");
    var event = {
      event_id: uuid(),
      user_id: userId(),
      session_id: anonymousId(),
      item_id: String(itemId),
      event_type: eventType || "view",
      timestamp: Date.now() / 1000
    };
    if (opts.value !== undefined && opts.value !== null) event.event_value = Number(opts.value);
    if (opts.properties) event.properties = opts.properties;
    var shown = opts.recommendationId ? { recommendationId: opts.recommendationId,
      itemIds: opts.impression || [] } : widgets[event.item_id];
    if (shown) {
      event.recommendation_id = shown.recommendationId;
      if (shown.itemIds.length) event.impression = shown.itemIds.slice(0, 500);
    }
    enqueue(event);
    return event.event_id;
  }

  function send(batch) {
    return w.fetch(endpoint + "/v1/events", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: false,
      headers: { "Content-Type": "application/json", "X-Tracking-Id": trackingId },
      body: JSON.stringify({ events: batch })
    }).then(function (r) {
      // 4xx other than 408/429 will never succeed: drop rather than retry forever.
      if (r.status >= 500 || r.status === 408 || r.status === 429) throw new Error("HTTP " + r.status);
      if (!r.ok) { stats.dropped += batch.length; return; }
      stats.sent += batch.length; stats.batches += 1;
    });
  }

  function flush() {
    if (inFlight) return inFlight.then(function () { return queue.length ? flush() : undefined; });
    if (!queue.length) return Promise.resolve();
    var batch = queue.splice(0, MAX_PER_REQUEST);
    inFlight = send(batch).then(function () {
      failures = 0; retryAt = 0;
    }, function () {
      stats.failures += 1; failures += 1;
      queue = batch.concat(queue); // keep order; retried after the backoff
      var backoff = Math.min(MAX_BACKOFF_MS, flushMs * Math.pow(2, failures));
      retryAt = Date.now() + backoff * (0.5 + Math.random() / 2);
    }).then(function () {
      inFlight = null;
      if (queue.length >= batchSize && !retryAt) return flush();
      if (queue.length) schedule(Math.max(0, retryAt - Date.now()) || flushMs);
    });
    return inFlight;
  }

  /* Page hide: the last chance to send. A beacon cannot carry headers, so the tracking id goes in
     the query string and the body is text/plain (a CORS-safelisted type, so no preflight). */
  function flushOnHide() {
    if (!queue.length) return;
    var url = endpoint + "/v1/events?tracking_id=" + encodeURIComponent(trackingId);
    while (queue.length) {
      var batch = queue.splice(0, 100); // browsers cap a beacon's body at 64 KB
      var body = new Blob([JSON.stringify({ events: batch })], { type: "text/plain" });
      var ok = false;
      try { ok = !!(w.navigator.sendBeacon && w.navigator.sendBeacon(url, body)); } catch (e) { ok = false; }
      if (ok) { stats.beacons += 1; stats.sent += batch.length; continue; }
      try {
        w.fetch(url, { method: "POST", body: body, keepalive: true, mode: "cors", credentials: "omit" });
        stats.sent += batch.length;
      } catch (e) { stats.dropped += batch.length; }
    }
  }

  /* Remember which recommendation list showed which items, so a later interaction with one of them
     carries the recommendation_id and the impression list (how Personalize measures a widget). */
  function impression(target) {
    var rec = target;
    if (target && target.nodeType === 1) {
      var nodes = target.querySelectorAll("[data-item-id]");
      rec = { recommendationId: target.getAttribute("data-recommendation-id"), itemIds: [] };
      for (var i = 0; i < nodes.length; i++) rec.itemIds.push(nodes[i].getAttribute("data-item-id"));
    }
    if (!rec || !rec.recommendationId) return;
    var shown = { recommendationId: rec.recommendationId, itemIds: (rec.itemIds || []).map(String) };
    shown.itemIds.forEach(function (id) { widgets[id] = shown; });
  }

  /* Tie the anonymous id to the user (POST /v1/users/ID/aliases): the server merges what this
     browser did before sign-in into the user, and counts its later anonymous events for them.
     A failed call is retried (5xx, 408, 429, network) up to 4 times with backoff. */
  function postAlias(anon, id, attempt) {
    return w.fetch(endpoint + "/v1/users/" + encodeURIComponent(id) + "/aliases", {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: true, // a sign-in often navigates away at once
      headers: { "Content-Type": "application/json", "X-Tracking-Id": trackingId },
      body: JSON.stringify({ anonymous_id: anon })
    }).then(function (r) {
      if (r.status >= 500 || r.status === 408 || r.status === 429) throw new Error("HTTP " + r.status);
      return r.ok;
    }).catch(function () {
      if (attempt >= 4) return false;
      return new Promise(function (done) {
        w.setTimeout(done, Math.min(MAX_BACKOFF_MS, flushMs * Math.pow(2, attempt)));
      }).then(function () { return postAlias(anon, id, attempt + 1); });
    });
  }

  /* Switch to the signed-in user's id; resolves to true once the server holds the alias (the
     events queued before are sent first). */
  function identify(id) {
    if (!id) throw new Error("streamrec.identify: a user id is required");
    id = String(id);
    var previous = store.get(KEY_USER);
    store.set(KEY_USER, id);
    var anon = anonymousId();
    if (previous === id || anon === id) return Promise.resolve(true);
    return flush().then(function () { return postAlias(anon, id, 0); });
  }

  function reset() { store.del(KEY_USER); store.del(KEY_ANON); widgets = {}; }

  d.addEventListener("visibilitychange", function () {
    if (d.visibilityState === "hidden") flushOnHide();
  });
  w.addEventListener("pagehide", flushOnHide);

  var pending = Array.isArray(w.streamrec) ? w.streamrec : [];
  var api = {
    version: "1",
    track: track,
    identify: identify,
    reset: reset,
    flush: flush,
    impression: impression,
    userId: userId,
    sessionId: anonymousId,
    stats: function () {
      return { sent: stats.sent, batches: stats.batches, beacons: stats.beacons,
        failures: stats.failures, dropped: stats.dropped, queued: queue.length };
    },
    config: { trackingId: trackingId, endpoint: endpoint, flushMs: flushMs, batchSize: batchSize }
  };
  w.streamrec = api;
  pending.forEach(function (call) { api[call[0]].apply(api, call.slice(1)); });
})(window, document);
