"""Issue 20 #3: serial references: groups and their limits, the batch cap, minting from
``secrets`` (unique across 100,000), the 3-character search floor, deletion with and without
``--yes``, export, assignment, and labels a barcode reader decodes back."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from serialsync.registry import RefusedError, create_group, delete, mint_batch, mint_one
from serialsync.store.sql import SQLStore

from tests.cli.conftest import SERIALS_A, SKU_A, CliWorld

A1 = SERIALS_A[0]


def test_a_group_holds_1000_by_default_and_refuses_past_it(store: SQLStore) -> None:
    with store.transaction():
        group = create_group(store, "tags", "batch")
        assert group.limit == 1000
        mint_batch(store, "tags", 500, name="one")
        mint_batch(store, "tags", 499, name="two")
        mint_one_in = create_group(store, "loose", "continuous", limit=2)
    assert mint_one_in.limit == 2
    with pytest.raises(RefusedError, match="holds 999 of at most 1000"), store.transaction():
        mint_batch(store, "tags", 2, name="three")
    assert store.count_refs("tags") == 999 and [b[0] for b in store.ref_batches("tags")] == [
        "one",
        "two",
    ]
    with store.transaction():
        mint_batch(store, "tags", 1, name="last")
    with store.transaction():
        mint_one(store, "loose")
        mint_one(store, "loose")
    with pytest.raises(RefusedError, match="at most 2"), store.transaction():
        mint_one(store, "loose")
    assert store.count_refs("loose") == 2


def test_the_batch_cap_is_500_and_kinds_are_kept_apart(store: SQLStore) -> None:
    with store.transaction():
        create_group(store, "big", "batch", limit=5000)
        create_group(store, "one", "continuous")
    for count in (501, 0):
        with pytest.raises(RefusedError, match="1 to 500"), store.transaction():
            mint_batch(store, "big", count)
    assert store.count_refs("big") == 0
    with pytest.raises(RefusedError, match="mints one at a time"), store.transaction():
        mint_batch(store, "one", 5)
    with pytest.raises(RefusedError, match="mints in batches"), store.transaction():
        mint_one(store, "big")
    with store.transaction():
        name, codes = mint_batch(store, "big", 500)
    assert len(codes) == 500 and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", name)


def test_references_are_25_characters_of_a_z_0_9_or_as_the_group_says(store: SQLStore) -> None:
    with store.transaction():
        create_group(store, "std", "continuous")
        create_group(store, "hex", "continuous", alphabet="0123456789ABCDEF", length=12)
        code = mint_one(store, "std")
        short = mint_one(store, "hex")
    assert re.fullmatch(r"[A-Z0-9]{25}", code)
    assert re.fullmatch(r"[0-9A-F]{12}", short)
    for bad in ({"alphabet": "A"}, {"alphabet": "AB|"}, {"length": 3}, {"limit": 0}):
        with pytest.raises(RefusedError), store.transaction():
            create_group(store, "bad", "continuous", **bad)


def test_100000_minted_references_are_unique(tmp_path: Path) -> None:
    from serialsync.store.sqlite import SQLiteStore

    with SQLiteStore.open(tmp_path / "many.db") as store:
        with store.transaction():
            create_group(store, "many", "batch", limit=100_000, length=25)
            for n in range(200):
                mint_batch(store, "many", 500, name=f"b{n}")
        codes = [r.ref for r in store.refs(group="many")]
        assert len(codes) == 100_000 == len(set(codes))
        assert all(re.fullmatch(r"[A-Z0-9]{25}", c) for c in codes[:1000])


def test_a_tiny_alphabet_never_mints_a_serial_a_reference_or_a_deleted_one(
    store: SQLStore,
) -> None:
    from serialsync.lifecycle import UnitStatus
    from serialsync.model import SerializedUnit

    with store.transaction():
        store.put_unit(SerializedUnit(sku="S", serial="ABBA"), status=UnitStatus.IN_STOCK)
        create_group(store, "tiny", "batch", alphabet="AB", length=4)  # 16 codes in all
        _, first = mint_batch(store, "tiny", 10, name="first")
        delete(store, first[:5])
        _, second = mint_batch(store, "tiny", 5, name="second")
    assert "ABBA" not in first + second
    assert not set(first) & set(second)  # deleted ones too: a reference is used once
    with pytest.raises(RefusedError, match="too few"), store.transaction():
        mint_batch(store, "tiny", 1, name="third")  # 15 taken + ABBA: none left
    assert [b[0] for b in store.ref_batches("tiny")] == ["first", "second"]


@pytest.fixture
def minted(synced: CliWorld) -> tuple[CliWorld, list[str]]:
    assert synced.invoke("refs", "group", "create", "tags", "--type", "batch").exit_code == 0
    made = synced.json("refs", "batch", "create", "tags", "--count", "6", "--name", "nov")
    return synced, made["references"]


def test_the_cli_lists_finds_and_exports(minted: tuple[CliWorld, list[str]]) -> None:
    world, codes = minted
    assert [g["held"] for g in world.json("refs", "group", "list")["groups"]] == [6]
    [batch] = world.json("refs", "batch", "list", "tags")["batches"]
    assert (batch["name"], batch["references"]) == ("nov", 6)
    listed = world.json("refs", "list", "tags", "--batch", "nov")["references"]
    assert [r["reference"] for r in listed] == codes
    found = world.json("refs", "find", codes[3][5:8].lower())["references"]
    assert codes[3] in [r["reference"] for r in found]
    short = world.invoke("refs", "find", "AB")
    assert short.exit_code == 2 and "at least 3 characters" in short.stderr
    exported = world.invoke("refs", "export", "tags", "--batch", "nov", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["reference"] for r in rows] == codes and rows[0]["batch"] == "nov"
    over = world.invoke("refs", "batch", "create", "tags", "--count", "501")
    assert over.exit_code == 1 and "1 to 500" in over.stderr


def test_delete_asks_first(minted: tuple[CliWorld, list[str]]) -> None:
    world, codes = minted
    declined = world.runner.invoke(
        __import__("serialsync.cli", fromlist=["app"]).app,
        ["refs", "delete", codes[0], codes[1], "--config", str(world.config)],
        input="n\n",
    )
    assert declined.exit_code == 1 and "nothing deleted" in declined.stdout
    assert len(world.json("refs", "list", "tags")["references"]) == 6
    confirmed = world.runner.invoke(
        __import__("serialsync.cli", fromlist=["app"]).app,
        ["refs", "delete", codes[0], "--config", str(world.config)],
        input="y\n",
    )
    assert confirmed.exit_code == 0, confirmed.output
    assert world.invoke("refs", "delete", codes[1], "--yes").exit_code == 0
    left = [r["reference"] for r in world.json("refs", "list", "tags")["references"]]
    assert left == codes[2:]
    again = world.invoke("refs", "delete", codes[0], "--yes")
    assert again.exit_code == 1 and "nothing deleted" in again.stderr


def test_assign_shows_and_publishes_the_reference(minted: tuple[CliWorld, list[str]]) -> None:
    world, codes = minted
    done = world.invoke("refs", "assign", codes[0], A1)
    assert done.exit_code == 0, done.output
    assert world.json("serials", "show", A1)["reference"] == codes[0]
    assert world.invoke("refs", "assign", codes[0], SERIALS_A[1]).exit_code == 1  # used once
    assert world.invoke("refs", "assign", codes[1], A1).exit_code == 1  # one per unit
    assert world.invoke("run", "--once").exit_code == 0
    variant = world.channel("shop_a").variants[f"{SKU_A}|||{A1}"]
    assert codes[0] in str(variant)


def _decode(pdf: bytes) -> list[str]:
    import pypdfium2 as pdfium  # type: ignore[import-untyped]
    import zxingcpp

    found: list[str] = []
    document = pdfium.PdfDocument(pdf)
    for page in document:
        image = page.render(scale=4).to_pil()
        found += [r.text for r in zxingcpp.read_barcodes(image)]
    return found


@pytest.mark.parametrize("code", ["qr", "code128"])
def test_labels_decode_back_to_the_references(
    minted: tuple[CliWorld, list[str]], code: str
) -> None:
    world, codes = minted
    out = world.folder / f"labels-{code}.pdf"
    result = world.invoke(
        "refs", "labels", "tags", "--batch", "nov", "--out", str(out), "--code", code
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")
    assert sorted(_decode(out.read_bytes())) == sorted(codes)
