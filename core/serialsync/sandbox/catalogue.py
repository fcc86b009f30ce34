"""A realistic serialized catalogue to seed the sandbox POS with: a music store's guitars.

Each unit is one instrument with its own serial, finish, wood grain, weight and photos, as a
store lists them. The catalogue is generated from a seed, so a demo or a benchmark is repeatable.
"""

from __future__ import annotations

import random
from decimal import Decimal

from serialsync.model import Product, SerializedUnit

_MODELS = [
    ("0113942719", "Fender American Professional II Stratocaster", "Fender", "1699.99", "US2100"),
    ("0113902700", "Fender American Professional II Telecaster", "Fender", "1649.99", "US2200"),
    ("LPS600ICNH1", "Gibson Les Paul Standard '60s", "Gibson", "2799.00", "2167"),
    ("SG6100ICNH1", "Gibson SG Standard '61", "Gibson", "1999.00", "2238"),
    ("CU24SE-BB", "PRS SE Custom 24", "PRS", "899.00", "CTIF"),
    ("D28STD", "Martin D-28 Standard", "Martin", "3299.00", "M2712"),
    ("814CE", "Taylor 814ce Builder's Edition", "Taylor", "5499.00", "1210"),
    ("RG550-DY", "Ibanez Genesis RG550", "Ibanez", "999.99", "F2205"),
]
_FINISHES = [
    "3-Color Sunburst",
    "Olympic White",
    "Black",
    "Cherry",
    "Natural",
    "Ebony",
    "Desert Sand",
]
_GRAINS = ["flame", "quilt", "straight", "bookmatched", "figured", "birdseye"]
_WOODS = ["alder", "ash", "mahogany", "maple", "rosewood", "spruce"]
_LOCATIONS = ["showroom", "back room", "warehouse A"]


def demo_catalogue(
    *, seed: int = 7, products: int = 5, units_per_product: int = 4
) -> list[Product]:
    """Guitars with per-unit attributes and photos, repeatable for a given ``seed``."""
    rng = random.Random(seed)
    catalogue = []
    for index in range(products):
        sku, title, brand, price, prefix = _MODELS[index % len(_MODELS)]
        if index >= len(_MODELS):
            sku = f"{sku}-{index // len(_MODELS)}"
        units = []
        for number in range(units_per_product):
            serial = f"{prefix}{rng.randrange(10**5, 10**6)}{number:02}"
            units.append(
                SerializedUnit(
                    sku=sku,
                    serial=serial,
                    location=rng.choice(_LOCATIONS),
                    price=(Decimal(price) - Decimal(rng.randrange(0, 4) * 50)).quantize(
                        Decimal("0.01")
                    ),
                    attributes={
                        "finish": rng.choice(_FINISHES),
                        "wood grain": rng.choice(_GRAINS),
                        "body wood": rng.choice(_WOODS),
                        "weight": f"{rng.uniform(6.8, 9.4):.1f} lb",
                    },
                    images=(
                        f"https://images.serialsync.invalid/{sku}/{serial}-front.jpg",
                        f"https://images.serialsync.invalid/{sku}/{serial}-back.jpg",
                    ),
                )
            )
        catalogue.append(
            Product(
                sku=sku,
                title=title,
                brand=brand,
                description=f"{title}. Every unit is photographed and sold by serial number.",
                price=Decimal(price),
                units=tuple(units),
            )
        )
    return catalogue
