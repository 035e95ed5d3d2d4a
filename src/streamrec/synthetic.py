"""Seeded synthetic shop data with known structure, for tests, benchmarks and the demo shop.

The structure is planted on purpose so that models can be checked against it:

- items belong to categories; inside a category, popularity follows a Zipf law;
- each user has a taste: a sparse Dirichlet mix over a few categories;
- sessions are sequential: with probability ``follow_prob`` the next item is the *successor* of
  the previous one (a fixed permutation inside its category), otherwise a fresh draw from the
  user's taste;
- event types follow a funnel (view > click > add_to_cart > purchase).

Everything is vectorised numpy, so 1,000,000 events over 100,000 items take a few seconds.
The same ``seed`` and ``n_items`` give the same catalogue in both functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

__all__ = [
    "CATEGORIES",
    "EVENT_TYPES",
    "ItemStructure",
    "generate_catalogue",
    "generate_interactions",
    "item_structure",
    "write_movielens",
]

EVENT_TYPES: tuple[str, ...] = ("view", "click", "add_to_cart", "purchase")
_EVENT_TYPE_PROBS = np.array([0.62, 0.25, 0.09, 0.04])

CATEGORIES: tuple[str, ...] = (
    "Books", "Electronics", "Kitchen", "Garden", "Toys", "Sports", "Beauty", "Music",
    "Outdoor", "Office", "Pets", "Fashion", "Shoes", "Home", "Tools", "Games",
    "Health", "Baby", "Automotive", "Grocery",
)  # fmt: skip

_NOUNS: dict[str, tuple[str, ...]] = {
    "Books": ("Novel", "Cookbook", "Atlas", "Biography", "Poetry Collection", "Guide"),
    "Electronics": ("Headphones", "Speaker", "Charger", "Camera", "Tablet", "Monitor"),
    "Kitchen": ("Kettle", "Frying Pan", "Knife Set", "Blender", "Teapot", "Cutting Board"),
    "Garden": ("Hose", "Planter", "Rake", "Seed Kit", "Lantern", "Bird Feeder"),
    "Toys": ("Puzzle", "Robot", "Teddy Bear", "Kite", "Building Set", "Yo-yo"),
    "Sports": ("Football", "Yoga Mat", "Dumbbell", "Tennis Racket", "Jump Rope", "Water Bottle"),
    "Beauty": ("Lipstick", "Face Cream", "Perfume", "Shampoo", "Nail Polish", "Hair Brush"),
    "Music": ("Vinyl Record", "Guitar Strings", "Ukulele", "Drumsticks", "Harmonica", "Songbook"),
    "Outdoor": ("Tent", "Sleeping Bag", "Backpack", "Compass", "Camping Stove", "Hammock"),
    "Office": ("Notebook", "Desk Lamp", "Stapler", "Fountain Pen", "Organizer", "Chair"),
    "Pets": ("Dog Bed", "Cat Toy", "Leash", "Aquarium", "Pet Bowl", "Scratching Post"),
    "Fashion": ("Scarf", "Jacket", "Hat", "Dress", "Sweater", "Belt"),
    "Shoes": ("Sneakers", "Boots", "Sandals", "Loafers", "Slippers", "Running Shoes"),
    "Home": ("Cushion", "Rug", "Candle", "Vase", "Blanket", "Wall Clock"),
    "Tools": ("Hammer", "Drill", "Screwdriver Set", "Tape Measure", "Wrench", "Toolbox"),
    "Games": ("Board Game", "Card Deck", "Chess Set", "Dice Set", "Video Game", "Jigsaw"),
    "Health": ("Vitamins", "Thermometer", "First Aid Kit", "Massage Ball", "Scale", "Tea Blend"),
    "Baby": ("Stroller", "Rattle", "Bib", "Crib Mobile", "Baby Blanket", "Pacifier"),
    "Automotive": ("Car Mat", "Phone Mount", "Wax", "Jump Starter", "Seat Cover", "Air Freshener"),
    "Grocery": ("Coffee Beans", "Olive Oil", "Chocolate", "Pasta", "Honey", "Spice Mix"),
}
_ADJECTIVES: tuple[str, ...] = (
    "Crimson", "Classic", "Compact", "Deluxe", "Eco", "Golden", "Handmade", "Indigo", "Little",
    "Modern", "Nordic", "Organic", "Premium", "Rustic", "Silver", "Smart", "Solar", "Vintage",
    "Wireless", "Zesty",
)  # fmt: skip
_BASE_TIME = 1_704_067_200.0  # 2024-01-01T00:00:00Z: a fixed origin keeps outputs reproducible
_SPAN_S = 30 * 86_400.0


@dataclass(frozen=True)
class ItemStructure:
    """The planted item structure: items sorted into contiguous category blocks."""

    category: np.ndarray  # int32 [n_items], category code of each item
    block_start: np.ndarray  # int64 [n_categories], first item of each category block
    block_size: np.ndarray  # int64 [n_categories]
    step: np.ndarray  # int64 [n_categories], successor stride inside the block
    popularity: np.ndarray  # float64 [n_items], sampling weight within the category

    def successor(self, items: np.ndarray, k: np.ndarray | int = 1) -> np.ndarray:
        """Item reached after ``k`` successor steps (the sequential pattern), vectorised."""
        cat = self.category[items]
        start = self.block_start[cat]
        offset = (items - start + np.asarray(k) * self.step[cat]) % self.block_size[cat]
        return np.asarray(start + offset, dtype=np.int64)


def item_structure(n_items: int, seed: int) -> ItemStructure:
    """Category blocks, Zipf popularity and successor strides for ``n_items`` items."""
    if n_items < 1:
        raise ValueError("n_items must be at least 1")
    rng = np.random.default_rng([seed, 1])
    n_cat = min(len(CATEGORIES), n_items)
    shares = rng.dirichlet(np.full(n_cat, 4.0))
    sizes = np.maximum(1, np.floor(shares * (n_items - n_cat)).astype(np.int64) + 1)
    sizes[-1] += n_items - sizes.sum()
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    category = np.repeat(np.arange(n_cat, dtype=np.int32), sizes)
    # Zipf inside each block, ranks shuffled so that an item's index does not give away popularity.
    order = np.lexsort((rng.random(n_items), category))
    rank = np.empty(n_items, dtype=np.int64)
    rank[order] = np.arange(n_items) - starts[category[order]]
    popularity = (1.0 + rank) ** -1.1
    step = np.array([_coprime_step(int(s), rng) for s in sizes], dtype=np.int64)
    return ItemStructure(category, starts, sizes, step, popularity)


def _coprime_step(size: int, rng: np.random.Generator) -> int:
    """A stride that visits the whole block before repeating (so the chain is a permutation)."""
    if size <= 2:
        return 1
    while True:
        step = int(rng.integers(1, size))
        if np.gcd(step, size) == 1:
            return step


def generate_catalogue(n_items: int, seed: int = 0) -> pa.Table:
    """Items with readable titles, a category, a price and a creation time.

    Columns: item_id (str), title (str), category (str), categories (list<str>), price (float64),
    created_at (float64 unix seconds).
    """
    st = item_structure(n_items, seed)
    rng = np.random.default_rng([seed, 2])
    adjective = rng.integers(0, len(_ADJECTIVES), n_items)
    noun = rng.integers(0, 6, n_items)
    titles = [
        f"{_ADJECTIVES[a]} {_NOUNS[CATEGORIES[c]][n]} No. {i}"
        for i, (a, c, n) in enumerate(zip(adjective, st.category, noun, strict=True))
    ]
    cat_names = pa.array(CATEGORIES[: int(st.category.max()) + 1])
    category = pa.DictionaryArray.from_arrays(pa.array(st.category), cat_names).cast(pa.string())
    offsets = pa.array(np.arange(n_items + 1, dtype=np.int32))
    price = np.round(np.exp(rng.normal(3.0, 0.8, n_items)), 2)
    created = _BASE_TIME - rng.uniform(0, 365 * 86_400.0, n_items)
    return pa.table(
        {
            "item_id": _ids("item-", np.arange(n_items)),
            "title": pa.array(titles, pa.string()),
            "category": category,
            "categories": pa.ListArray.from_arrays(offsets, category),
            "price": price,
            "created_at": created,
        }
    )


def generate_interactions(
    n_users: int,
    n_items: int,
    n_events: int,
    seed: int = 0,
    follow_prob: float = 0.5,
    mean_session_length: float = 6.0,
) -> pa.Table:
    """Events sorted by timestamp. Columns: user_id, item_id, timestamp (float64 unix seconds),
    event_type (view|click|add_to_cart|purchase), event_value (1.0, or the price for purchases),
    session_id."""
    if n_users < 1 or n_events < 1:
        raise ValueError("n_users and n_events must be at least 1")
    st = item_structure(n_items, seed)
    rng = np.random.default_rng([seed, 3])
    user, session, new_session = _sessions(rng, n_users, n_events, mean_session_length)
    items = _items(rng, st, user, new_session, n_users, follow_prob)
    etype = rng.choice(len(EVENT_TYPES), n_events, p=_EVENT_TYPE_PROBS).astype(np.int32)
    times = _timestamps(rng, session, new_session)
    price = np.round(np.exp(np.random.default_rng([seed, 2]).normal(3.0, 0.8, n_items)), 2)
    value = np.where(etype == 3, price[items] if n_items else 1.0, 1.0)
    order = np.argsort(times, kind="stable")
    types = pa.DictionaryArray.from_arrays(pa.array(etype[order]), pa.array(EVENT_TYPES))
    return pa.table(
        {
            "user_id": _ids("user-", user[order]),
            "item_id": _ids("item-", items[order]),
            "timestamp": times[order],
            "event_type": types.cast(pa.string()),
            "event_value": value[order].astype(np.float64),
            "session_id": _ids("session-", session[order]),
        }
    )


def _sessions(
    rng: np.random.Generator, n_users: int, n_events: int, mean_len: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut the event sequence into sessions (geometric lengths), each owned by one user.

    Users' activity is skewed (lognormal), as in real shops."""
    n_sessions_guess = int(n_events / mean_len * 1.5) + 2
    lengths = rng.geometric(1.0 / mean_len, n_sessions_guess)
    ends = np.cumsum(lengths)
    n_sessions = int(np.searchsorted(ends, n_events)) + 1
    new_session = np.zeros(n_events, dtype=bool)
    new_session[0] = True
    starts = ends[: n_sessions - 1]
    new_session[starts[starts < n_events]] = True
    session = np.cumsum(new_session) - 1
    activity = rng.lognormal(0.0, 1.0, n_users)
    owner = rng.choice(n_users, int(session[-1]) + 1, p=activity / activity.sum())
    # Every user gets at least one session when there are enough sessions.
    k = min(n_users, owner.size)
    owner[rng.permutation(owner.size)[:k]] = np.arange(k)
    return owner[session].astype(np.int64), session.astype(np.int64), new_session


def _items(
    rng: np.random.Generator,
    st: ItemStructure,
    user: np.ndarray,
    new_session: np.ndarray,
    n_users: int,
    follow_prob: float,
) -> np.ndarray:
    """Fresh draws from each user's taste, then successor chains between the draws."""
    n = user.size
    n_cat = st.block_size.size
    taste = rng.dirichlet(np.full(n_cat, 0.15), n_users)
    cum_taste = np.cumsum(taste, axis=1)
    cat = (cum_taste[user] < rng.random(n)[:, None]).sum(axis=1).clip(0, n_cat - 1)
    fresh = _draw_in_category(rng, st, cat)
    jump = new_session | (rng.random(n) >= follow_prob)
    pos = np.arange(n)
    anchor = np.maximum.accumulate(np.where(jump, pos, 0))
    return st.successor(fresh[anchor], pos - anchor)


def _draw_in_category(rng: np.random.Generator, st: ItemStructure, cat: np.ndarray) -> np.ndarray:
    """Popularity-weighted item draw inside each event's category (inverse CDF per block)."""
    cum = np.cumsum(st.popularity)
    start, size = st.block_start[cat], st.block_size[cat]
    before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    total = cum[start + size - 1] - before
    target = before + rng.random(cat.size) * total
    idx = np.searchsorted(cum, target, side="right")
    return np.asarray(np.clip(idx, start, start + size - 1), dtype=np.int64)


def _timestamps(
    rng: np.random.Generator, session: np.ndarray, new_session: np.ndarray
) -> np.ndarray:
    """Sessions start uniformly over 30 days; events inside are 5 s to a few minutes apart."""
    n_sessions = int(session[-1]) + 1
    start = _BASE_TIME + np.sort(rng.uniform(0, _SPAN_S, n_sessions))
    gaps = rng.exponential(45.0, session.size) + 5.0
    gaps[new_session] = 0.0
    within = np.cumsum(gaps)
    first = np.maximum.accumulate(np.where(new_session, np.arange(session.size), 0))
    return np.asarray(np.round(start[session] + within - within[first], 3), dtype=np.float64)


def _ids(prefix: str, codes: np.ndarray) -> pa.Array:
    """String ids via a dictionary of the distinct codes: fast for millions of rows."""
    uniq, inverse = np.unique(codes, return_inverse=True)
    names = pa.array([f"{prefix}{int(c)}" for c in uniq], pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(inverse.astype(np.int32)), names).cast(
        pa.string()
    )


MOVIELENS_START = 874_724_710.0  # MovieLens 100k's first rating (1997-09-20)
MOVIELENS_SPAN_S = 215 * 86_400.0
MOVIELENS_GENRE_COUNT = 19


def write_movielens(
    folder: Path, n_users: int = 60, n_items: int = 80, n_ratings: int = 3000, seed: int = 0
) -> Path:
    """A synthetic data set in MovieLens 100k's files, ``u.data`` (user, item, rating, unix time;
    tab-separated, one rating per user and item, 1997-98) and ``u.item`` (``id|title|release
    date|video date|url|19 genre flags``), with the planted structure of
    :func:`generate_interactions`. Item ids are numbers as in MovieLens; titles are ``Film N
    (1997)``. Returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    table = generate_interactions(n_users, n_items, n_ratings, seed=seed)
    users = [int(u.removeprefix("user-")) + 1 for u in table.column("user_id").to_pylist()]
    items = [int(i.removeprefix("item-")) + 1 for i in table.column("item_id").to_pylist()]
    times = np.asarray(table.column("timestamp").to_numpy(), np.float64)
    span = max(float(times.max() - times.min()), 1.0)
    stamps = MOVIELENS_START + (times - times.min()) * (MOVIELENS_SPAN_S / span)
    ratings = np.random.default_rng([seed, 5]).integers(1, 6, len(users))
    seen: set[tuple[int, int]] = set()
    lines = []
    for user, item, stamp, rating in zip(users, items, stamps.tolist(), ratings, strict=True):
        if (user, item) not in seen:
            seen.add((user, item))
            lines.append(f"{user}\t{item}\t{rating}\t{int(stamp)}\n")
    (folder / "u.data").write_text("".join(lines))
    st = item_structure(n_items, seed)
    rows = []
    for item in range(n_items):
        flags = ["0"] * MOVIELENS_GENRE_COUNT
        flags[1 + int(st.category[item]) % (MOVIELENS_GENRE_COUNT - 1)] = "1"
        rows.append(
            f"{item + 1}|Film {item + 1} (1997)|01-Jan-1997||http://example.invalid/{item + 1}|"
            + "|".join(flags)
            + "\n"
        )
    (folder / "u.item").write_text("".join(rows), encoding="latin-1")
    return folder
