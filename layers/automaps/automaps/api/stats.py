"""The admin API's numbers per map and step (behind IAM auth; automaps.journeys.stats).

* ``GET /stats``: ``{"maps": [<read_map of every registered map>]}``
* ``GET /stats/{map_id}``: the map's numbers (``read_map``); 400 for a malformed map id, 404 for a
  map that is neither registered nor counted.
"""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError

from automaps.replies import Reply, json_reply

MAP_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")  # as automaps.maps.model.MAP_ID
THROTTLED = frozenset({"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"})


def _unavailable(error: ClientError) -> Reply:
    code = error.response.get("Error", {}).get("Code", "")
    if code in THROTTLED:
        return Reply(
            429, '{"message": "DynamoDB is throttling; try again in a few seconds"}', headers={"Retry-After": "5"}
        )
    raise error


def read_all() -> Reply:
    from automaps.journeys import stats

    try:
        return _in_order({"maps": stats.read_all()})
    except ClientError as error:
        return _unavailable(error)


def read(map_id: str) -> Reply:
    from automaps.journeys import enrollment, stats

    if not MAP_ID.fullmatch(map_id or ""):
        return json_reply(400, {"message": f"{map_id[:80]!r} is no map id (lowercase letters, digits and '-')"})
    try:
        numbers = stats.read_map(map_id)
        if not numbers["steps"] and not numbers["entered"] and enrollment.map_record(map_id) is None:
            return json_reply(404, {"message": f"no map {map_id!r} is registered or counted"})
    except ClientError as error:
        return _unavailable(error)
    return _in_order(numbers)


def _in_order(payload: dict[str, Any]) -> Reply:
    """JSON keeping the steps in the map's reading order (json_reply sorts keys)."""
    return Reply(200, json.dumps(payload))
