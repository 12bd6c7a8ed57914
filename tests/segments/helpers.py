"""What the segment specifications share: segment files pushed as `automaps push` pushes them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from automaps.journeys import segments as upkeep
from automaps.store.content import ContentStore
from automaps.store.contacts import ContactStore
from automaps_local.push import load_segments

VIP = {"id": "vip", "name": "VIP contacts", "condition": {"all": [{"has_tag": "vip"}, {"not": {"has_tag": "churned"}}]}}


def pushed(root: Path, *bodies: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """GIVEN the segment files content/segments/<id>.yaml under ``root``, validated and written to
    the content table as `automaps push` writes them (the router reads them again at once)."""
    folder = root / "content" / "segments"
    folder.mkdir(parents=True, exist_ok=True)
    for body in bodies:
        (folder / f"{body['id']}.yaml").write_text(yaml.safe_dump(body))
    found = load_segments(root)
    for segment_id, body in found.items():
        ContentStore().put("SEGMENT", segment_id, body)
    upkeep.forget()
    return found


def kinds(contact_id: str, prefix: str = "segment.") -> list[tuple[str, Any]]:
    """The contact's segment transitions, oldest first: (kind, segment)."""
    return [(h.kind, h.detail.get("segment")) for h in ContactStore().history(contact_id) if h.kind.startswith(prefix)]


def tagged(contact_id: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> None:
    """WHEN a step changes the contact's tags: the change and its tags.changed entry are one
    transaction (as the change_tags action writes them), and the stream routes the entry."""
    import secrets

    from automaps.store.contacts import Effect

    ContactStore().change_tags(
        contact_id, add=add, remove=remove, effect=Effect(visit=f"test-{secrets.token_hex(8)}", kind="tags.changed")
    )
