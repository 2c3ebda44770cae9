"""The generator's rows in canonical form (see cdc_sink::generate::canonical), whatever engine
read them and whatever type the registry gave each column (declared or inferred)."""
import datetime
import decimal

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def micros(v):
    if isinstance(v, str):
        v = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    if v.tzinfo is None:
        v = v.replace(tzinfo=datetime.timezone.utc)
    return (v - EPOCH) // datetime.timedelta(microseconds=1)


def canonical(row):
    price = row["price"]
    price = format(decimal.Decimal(str(price)).quantize(decimal.Decimal("0.01")), "f")
    active = row["active"]
    if isinstance(active, str):
        active = active in ("t", "true")
    return {
        "id": int(row["id"]),
        "qty": int(row["qty"]),
        "price": price,
        "name": row["name"],
        "active": bool(active),
        "updated_at": micros(row["updated_at"]),
        "note": row.get("note"),
    }
