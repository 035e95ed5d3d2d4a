/* streamrec demo shop: a single-page storefront fed by the public API.
 *
 * Pages (/demo and /demo/item/ID) are switched with the History API, so clicking items never
 * reloads the page: each interaction goes through the tracker, is flushed at once, and the widgets
 * are fetched again, so a visitor sees "Recommended for you" follow their clicks.
 * Everything is built with DOM calls (textContent), never innerHTML: titles come from a catalogue
 * an operator may have imported from anywhere.
 */
(function () {
  "use strict";
  var meta = {}; // item id -> metadata seen in any response
  var renders = {}; // widget name -> number of renders (tests wait on it)

  function $(sel, root) { return (root || document).querySelector(sel); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function getJSON(path) {
    return fetch(path, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { var e = new Error("HTTP " + r.status); e.status = r.status; throw e; }
      return r.json();
    });
  }

  function remember(items) {
    (items || []).forEach(function (it) {
      if (it.title || it.properties) meta[it.item_id] = Object.assign({}, meta[it.item_id], it);
    });
    return items || [];
  }

  /* History rows may come without metadata: fill it in from the items API (cached). */
  function withMeta(items) {
    return Promise.all(items.map(function (it) {
      if (meta[it.item_id]) return Object.assign({}, meta[it.item_id], it);
      return getJSON("/v1/items/" + encodeURIComponent(it.item_id)).then(function (m) {
        remember([m]);
        return Object.assign({}, m, it);
      }, function () { return it; });
    }));
  }

  function props(it) { return it.properties || {}; }

  function swatch(it, cls) {
    var p = props(it);
    var box = el("div", cls || "swatch", p.emoji || "🛍️");
    if (/^#[0-9a-fA-F]{3,8}$/.test(p.colour || "")) box.style.background = p.colour;
    return box;
  }

  function price(it) {
    var v = Number(props(it).price);
    return isFinite(v) && v > 0 ? "$" + v.toFixed(2) : "";
  }

  function card(it) {
    var a = el("a", "card");
    a.href = "/demo/item/" + encodeURIComponent(it.item_id);
    a.setAttribute("data-item-id", it.item_id);
    a.setAttribute("data-nav", "");
    a.appendChild(swatch(it));
    a.appendChild(el("div", "title", it.title || it.item_id));
    var cats = (it.categories || []).join(", ");
    a.appendChild(el("div", "meta", [cats, price(it)].filter(Boolean).join(" · ")));
    return a;
  }

  function fillRow(row, items, empty) {
    row.replaceChildren();
    if (!items.length) { row.appendChild(el("p", "empty", empty)); return; }
    items.forEach(function (it) { row.appendChild(card(it)); });
  }

  function markRendered(section) {
    var name = section.getAttribute("data-widget");
    renders[name] = (renders[name] || 0) + 1;
    section.setAttribute("data-renders", String(renders[name]));
  }

  function user() { return window.streamrec.userId(); }

  function loadRecommended() {
    var section = $("#widget-recommended");
    var q = "?n=8&session_id=" + encodeURIComponent(window.streamrec.sessionId());
    return getJSON("/v1/recommendations/" + encodeURIComponent(user()) + q).then(function (res) {
      section.setAttribute("data-recommendation-id", res.recommendation_id || "");
      var model = res.model || {};
      $(".model", section).textContent = model.recipe
        ? "(" + model.recipe + (model.version ? " " + model.version : "") + ")" : "";
      fillRow($(".row", section), remember(res.items), "Nothing to recommend yet.");
      window.streamrec.impression(section);
      markRendered(section);
    }, function (e) { widgetError(section, e); });
  }

  function loadRecent() {
    var section = $("#widget-recent");
    return getJSON("/v1/users/" + encodeURIComponent(user()) + "/history?limit=8")
      .then(function (res) { return withMeta(res.items || []); })
      .then(function (items) {
        fillRow($(".row", section), items, "Items you look at appear here.");
        markRendered(section);
      }, function (e) { widgetError(section, e); });
  }

  function loadSimilar(itemId, section) {
    return getJSON("/v1/items/" + encodeURIComponent(itemId) + "/similar?n=6").then(function (res) {
      section.setAttribute("data-recommendation-id", res.recommendation_id || "");
      fillRow($(".row", section), remember(res.items), "No similar items yet.");
      window.streamrec.impression(section);
      markRendered(section);
    }, function (e) { widgetError(section, e); });
  }

  function widgetError(section, e) {
    var row = $(".row", section);
    row.replaceChildren(el("p", "empty", "Could not load (" + e.message + ")."));
    markRendered(section);
  }

  function refreshWidgets() { return Promise.all([loadRecommended(), loadRecent()]); }

  /* Send what the tracker holds now, then refresh; refresh once more a moment later in case the
     real-time consumers had not caught up with the first read. */
  function afterInteraction() {
    return window.streamrec.flush().then(refreshWidgets).then(function () {
      window.setTimeout(refreshWidgets, 1200);
    });
  }

  function section(id, name, heading) {
    var s = el("section", "widget wide");
    s.id = id;
    s.setAttribute("data-widget", name);
    s.appendChild(el("h2", null, heading));
    s.appendChild(el("div", "row grid"));
    return s;
  }

  function renderHome(view) {
    var popular = section("grid-popular", "popular", "Popular right now");
    var trending = section("grid-trending", "trending", "Trending");
    view.replaceChildren(popular, trending);
    document.title = "streamrec demo shop";
    getJSON("/v1/popular?n=24").then(function (res) {
      fillRow($(".row", popular), remember(res.items),
        "No popular items yet: no events recorded. Seed the demo shop or send some events.");
      markRendered(popular);
    }, function (e) { widgetError(popular, e); });
    getJSON("/v1/trending?n=8").then(function (res) {
      fillRow($(".row", trending), remember(res.items), "Nothing is trending yet.");
      markRendered(trending);
    }, function (e) { widgetError(trending, e); });
  }

  function renderItem(view, itemId) {
    var detail = el("article", "detail");
    detail.setAttribute("data-item-id", itemId);
    var similar = section("widget-similar", "similar", "Similar items");
    view.replaceChildren(detail, similar);
    getJSON("/v1/items/" + encodeURIComponent(itemId)).then(function (it) {
      remember([it]);
      fillDetail(detail, it);
    }, function (e) {
      detail.replaceChildren(el("p", "empty", e.status === 404 ? "No such item." : e.message));
    });
    loadSimilar(itemId, similar);
    window.streamrec.track("view", itemId, { properties: { page: "item" } });
    afterInteraction();
  }

  function fillDetail(detail, it) {
    document.title = (it.title || it.item_id) + " · streamrec demo shop";
    var info = el("div", "info");
    info.appendChild(el("h1", null, it.title || it.item_id));
    info.appendChild(el("p", "meta", (it.categories || []).join(", ")));
    info.appendChild(el("p", "price", price(it)));
    var buy = el("div", "actions");
    [["add_to_cart", "Add to cart"], ["purchase", "Buy now"]].forEach(function (pair) {
      var b = el("button", pair[0], pair[1]);
      b.type = "button";
      b.setAttribute("data-action", pair[0]);
      b.addEventListener("click", function () {
        window.streamrec.track(pair[0], it.item_id, { value: props(it).price || 1 });
        toast(pair[0] === "purchase" ? "Thank you for your order!" : "Added to your cart.");
        afterInteraction();
      });
      buy.appendChild(b);
    });
    info.appendChild(buy);
    detail.replaceChildren(swatch(it, "swatch big"), info);
  }

  function toast(text) {
    var t = $("#toast");
    t.textContent = text;
    t.hidden = false;
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () { t.hidden = true; }, 2000);
  }

  function route() {
    var view = $("#view");
    var m = /^\/demo\/item\/(.+)$/.exec(location.pathname);
    if (m) renderItem(view, decodeURIComponent(m[1]));
    else { renderHome(view); refreshWidgets(); }
    window.scrollTo(0, 0);
  }

  function onNavClick(ev) {
    var a = ev.target.closest && ev.target.closest("a[data-nav]");
    if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey) return;
    ev.preventDefault();
    if (a.getAttribute("href") !== location.pathname) history.pushState(null, "", a.href);
    route();
  }

  function showUser() { $("#user-id").textContent = user(); }

  function bindUser() {
    $("#signin").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var id = $("#signin-id").value.trim();
      if (!id) return;
      window.streamrec.identify(id);
      showUser();
      refreshWidgets();
    });
    $("#signout").addEventListener("click", function () {
      window.streamrec.reset();
      showUser();
      refreshWidgets();
    });
  }

  function showStats() {
    var s = window.streamrec.stats();
    $("#tracker-stats").textContent = "tracker: " + s.sent + " events sent in " + s.batches +
      " batches, " + s.queued + " queued" + (s.failures ? ", " + s.failures + " retries" : "");
  }

  function start() {
    if (!window.streamrec || !window.streamrec.version) {
      $("#banner").textContent = "The tracker did not load: events cannot be sent.";
      $("#banner").hidden = false;
      return;
    }
    if (!window.streamrec.config.trackingId) {
      $("#banner").textContent = "No tracking id is configured (STREAMREC_TRACKING_ID): " +
        "clicks will not be recorded.";
      $("#banner").hidden = false;
    }
    document.addEventListener("click", onNavClick);
    window.addEventListener("popstate", route);
    bindUser();
    showUser();
    route();
    window.setInterval(showStats, 500);
  }

  window.streamrecDemo = { refresh: refreshWidgets, renders: renders };
  window.addEventListener("load", start);
})();
