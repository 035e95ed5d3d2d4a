"""The catalogue: validation with precise fields, the SQLite backend, and the importers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamrec.catalogue import Item, validate_item, validate_items
from streamrec.catalogue.importer import import_items
from streamrec.catalogue.sqlite import SqliteCatalogue
from streamrec.errors import ValidationError


@pytest.fixture
def catalogue(tmp_path: Path) -> SqliteCatalogue:
    cat = SqliteCatalogue(tmp_path / "catalogue.db")
    yield cat  # type: ignore[misc]
    cat.close()


def test_valid_item_round_trips(catalogue: SqliteCatalogue) -> None:
    item = validate_item(
        {"title": "Toy", "categories": ["Kids", "Kids", "Fun"], "properties": {"price": 3.5},
         "created_at": "1995-01-01T00:00:00Z", "hidden": False},
        item_id="i1",
    )  # fmt: skip
    assert item.categories == ("Kids", "Fun") and item.created_at == 788918400.0
    catalogue.upsert([item])
    assert catalogue.get("i1") == item
    assert catalogue.get("nope") is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"title": 5}, "title"),
        ({"categories": "Kids"}, "categories"),
        ({"categories": ["ok", 3]}, "categories[1]"),
        ({"properties": {"a": {"nested": 1}}}, "properties.a"),
        ({"properties": [1]}, "properties"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": 1_700_000_000_000}, "created_at"),
        ({"hidden": "yes"}, "hidden"),
        ({"colour": "red"}, "colour"),
        ({"item_id": "other"}, "item_id"),
    ],
)
def test_validation_names_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        validate_item(raw, item_id="i1")
    assert err.value.field == field


def test_batch_validation_names_the_item() -> None:
    with pytest.raises(ValidationError) as err:
        validate_items([{"item_id": "a"}, {"item_id": "b", "title": 1}])
    assert err.value.field == "items[1].title"
    with pytest.raises(ValidationError) as err:
        validate_items([{"item_id": str(i)} for i in range(501)])
    assert err.value.field == "items"
    with pytest.raises(ValidationError, match="item_id"):
        validate_items([{"title": "no id"}])


def test_get_many_version_and_iterate(catalogue: SqliteCatalogue) -> None:
    v0 = catalogue.version()
    catalogue.upsert([Item(f"i{k}", title=f"T{k}") for k in range(1200)])
    assert catalogue.version() > v0
    got = catalogue.get_many(["i5", "missing", "i1100", "i5"])
    assert set(got) == {"i5", "i1100"} and got["i5"].title == "T5"
    assert catalogue.count() == 1200
    assert len({i.item_id for i in catalogue.iterate()}) == 1200
    catalogue.upsert([Item("i5", title="new", hidden=True)])
    assert catalogue.get("i5") == Item("i5", title="new", hidden=True)


def test_version_seen_by_another_connection(tmp_path: Path) -> None:
    writer, reader = SqliteCatalogue(tmp_path / "c.db"), SqliteCatalogue(tmp_path / "c.db")
    before = reader.version()
    writer.upsert([Item("x")])
    assert reader.version() != before and reader.get("x") == Item("x")
    writer.close()
    reader.close()


def test_import_csv(tmp_path: Path, catalogue: SqliteCatalogue) -> None:
    path = tmp_path / "items.csv"
    path.write_text(
        "ITEM_ID,title,GENRES,price,CREATION_TIMESTAMP,hidden\n"
        "m1,One,Comedy|Drama,9.5,100,false\n"
        "m2,Two,,x,,1\n"
        ",Bad,,,,\n"
    )
    report = import_items(catalogue, path, "csv")
    assert (report.accepted, report.rejected) == (2, 1)
    assert report.errors[0][0] == 4 and "item_id" in report.errors[0][1]
    m1 = catalogue.get("m1")
    assert m1 == Item("m1", "One", ("Comedy", "Drama"), {"price": 9.5}, 100.0, False)
    m2 = catalogue.get("m2")
    assert m2 is not None and m2.hidden and m2.properties == {"price": "x"}


def test_import_jsonl(tmp_path: Path, catalogue: SqliteCatalogue) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(
        '{"item_id": "a", "categories": ["X"]}\n\n{not json}\n{"item_id": "b", "hidden": 2}\n'
    )
    report = import_items(catalogue, path, "jsonl")
    assert report.accepted == 1 and [line for line, _ in report.errors] == [3, 4]
    assert "hidden" in report.errors[1][1]


def test_import_movielens_with_genre_file(tmp_path: Path, catalogue: SqliteCatalogue) -> None:
    flags = ["0"] * 19
    flags[1] = flags[5] = "1"
    (tmp_path / "u.item").write_text(
        "1|A Film (1995)|01-Jan-1995||http://example.org/a|" + "|".join(flags) + "\n"
        "2|Old Film (1950)|01-Jan-1950||||" + "|".join(["0"] * 18) + "\n"
        "3|short|line\n",
        encoding="latin-1",
    )
    genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy"] + [
        f"G{k}" for k in range(6, 19)
    ]
    (tmp_path / "u.genre").write_text("".join(f"{g}|{k}\n" for k, g in enumerate(genres)))
    report = import_items(catalogue, tmp_path / "u.item", "movielens")
    assert (report.accepted, report.rejected) == (2, 1)
    film = catalogue.get("1")
    assert film is not None and film.categories == ("Action", "Comedy")
    assert film.title == "A Film (1995)" and film.created_at == 788918400.0
    assert film.properties == {"url": "http://example.org/a"}
    old = catalogue.get("2")
    assert old is not None and old.created_at is not None and old.created_at < 0


def test_unknown_format_and_missing_file(tmp_path: Path, catalogue: SqliteCatalogue) -> None:
    with pytest.raises(ValidationError) as err:
        import_items(catalogue, tmp_path / "x.csv", "xml")
    assert err.value.field == "format"
    with pytest.raises(ValidationError) as err:
        import_items(catalogue, tmp_path / "x.csv", "csv")
    assert err.value.field == "path"
