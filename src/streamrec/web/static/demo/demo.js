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
  var missing = {}; // item ids the catalogue does not hold (shown by id)
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

  /* Metadata of several items in one request; items the catalogue lacks come back in "missing"
     (no 404 per item). Resolves to {item_id: item} for the items found. */
  function lookup(ids) {
    var wanted = ids.filter(function (id) { return !meta[id]; });
    if (!wanted.length) return Promise.resolve(meta);
    var q = wanted.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
    return getJSON("/v1/items?" + q).then(function (res) {
      remember(res.items);
      (res.missing || []).forEach(function (id) { missing[id] = true; });
      return meta;
    }, function () { return meta; });
  }

  /* History rows come without metadata: fill it in from the catalogue. */
  function withMeta(items) {
    var ids = items.map(function (it) { return it.item_id; });
    return lookup(ids).then(function (known) {
      return items.map(function (it) { return Object.assign({}, known[it.item_id], it); });
    });
  }

  function props(it) { return it.properties || {}; }

  function hash(text) {
    var h = 0;
    for (var i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) | 0;
    return Math.abs(h);
  }

  /* A picture drawn as inline SVG (no image files, no emoji font): a shape chosen by the item's
     category (or id) on the category's colour. */
  var SHAPES = [
    "M50 12 L82 48 L18 48 Z",
    "M30 14 H70 V46 H30 Z",
    "M50 10 A20 20 0 1 1 49.9 10 Z",
    "M50 8 L72 30 L50 52 L28 30 Z",
    "M22 30 Q50 -4 78 30 Q50 64 22 30 Z",
    "M34 12 H66 L80 30 L66 48 H34 L20 30 Z"
  ];
  var SVG = "http://www.w3.org/2000/svg";

  function picture(it) {
    var key = (it.categories || [])[0] || it.item_id || "";
    var colour = props(it).colour;
    if (!/^#[0-9a-fA-F]{3,8}$/.test(colour || "")) colour = "hsl(" + (hash(key) % 360) + " 35% 45%)";
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 100 60");
    svg.setAttribute("preserveAspectRatio", "xMidYMid slice");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", key);
    var bg = document.createElementNS(SVG, "rect");
    bg.setAttribute("width", "100");
    bg.setAttribute("height", "60");
    bg.setAttribute("fill", colour);
    var shape = document.createElementNS(SVG, "path");
    shape.setAttribute("d", SHAPES[hash(key) % SHAPES.length]);
    shape.setAttribute("fill", "rgb(255 255 255 / 70%)");
    svg.appendChild(bg);
    svg.appendChild(shape);
    return svg;
  }

  function swatch(it, cls) {
    var box = el("div", cls || "swatch");
    box.appendChild(picture(it));
    return box;
  }

  function describe(it) {
    var cats = (it.categories || []).join(", ");
    if (!cats && missing[it.item_id]) cats = "not in the catalogue";
    return [cats, price(it)].filter(Boolean).join(" · ");
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
    a.appendChild(el("div", "meta", describe(it)));
    var reason = why(it);
    if (reason) a.appendChild(el("div", "why", reason));
    return a;
  }

  var VERBS = { view: "viewed", add_to_cart: "added to your cart", purchase: "bought",
                rating: "rated", like: "liked" };

  /* The item's reason (GET /v1/recommendations): the shopper's own event behind it, named by
     the title of the item it was on ("Because you viewed Red Mug"). */
  function why(it) {
    var r = it.reason;
    if (!r || !r.item_id || (r.type !== "because_you" && r.type !== "repeat")) return "";
    var verb = VERBS[r.event_type] || "chose";
    if (r.type === "repeat") return "You " + verb + " this before";
    var other = meta[r.item_id] || {};
    return "Because you " + verb + " " + (other.title || r.item_id);
  }

  /* Titles of the items the reasons name, then the row. */
  function fillWithReasons(row, items, empty) {
    var ids = items.map(function (it) { return it.reason && it.reason.item_id; })
      .filter(function (id) { return !!id; });
    return lookup(ids).then(function () { fillRow(row, items, empty); });
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
      var items = remember(res.items);
      return fillWithReasons($(".row", section), items, "Nothing to recommend yet.").then(function () {
        window.streamrec.impression(section);
        markRendered(section);
      });
    }).catch(function (e) { widgetError(section, e); });
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

  /* Resolves to false when the server does not know the item at all (404). */
  function loadSimilar(itemId, section) {
    return getJSON("/v1/items/" + encodeURIComponent(itemId) + "/similar?n=6").then(function (res) {
      section.setAttribute("data-recommendation-id", res.recommendation_id || "");
      return withMeta(res.items || []).then(function (items) {
        fillRow($(".row", section), remember(items), "No similar items yet.");
        window.streamrec.impression(section);
        markRendered(section);
        return true;
      });
    }, function (e) {
      widgetError(section, e);
      return e.status !== 404;
    });
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
      fillRow($(".row", trending), remember(res.items), "No recent activity: nothing is trending right now.");
      markRendered(trending);
    }, function (e) { widgetError(trending, e); });
  }

  function renderItem(view, itemId) {
    var detail = el("article", "detail");
    detail.setAttribute("data-item-id", itemId);
    var similar = section("widget-similar", "similar", "Similar items");
    view.replaceChildren(detail, similar);
    // Both at once; the view is recorded only for an item the server knows (no event for a dead
    // link). An item without a catalogue entry (e.g. imported events without import-items) is
    // shown by its id.
    Promise.all([lookup([itemId]), loadSimilar(itemId, similar)]).then(function (found) {
      var item = found[0][itemId];
      if (!item && !found[1]) {
        detail.replaceChildren(el("p", "empty", "No such item."));
        return;
      }
      fillDetail(detail, item || { item_id: itemId });
      window.streamrec.track("view", itemId, { properties: { page: "item" } });
      afterInteraction();
    });
  }

  function fillDetail(detail, it) {
    document.title = (it.title || it.item_id) + " · streamrec demo shop";
    var info = el("div", "info");
    info.appendChild(el("h1", null, it.title || it.item_id));
    info.appendChild(el("p", "meta", describe(it)));
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
      // identify() ties the anonymous clicks to the user (an alias): once it resolves, their
      // history and recommendations include what they did before signing in
      window.streamrec.identify(id).then(function () {
        showUser();
        refreshWidgets().then(function () { window.setTimeout(refreshWidgets, 1200); });
      });
      showUser();
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
