"""The human-in-command switch of the recommendation engine: on, frozen or off.

- ``on``: training promotes better models, the API and the batch scorer serve the champion.
- ``frozen``: training still runs and logs challengers, but nothing is promoted; serving
  keeps the current champion.
- ``off``: the API answers "disabled" with no items, the batch scorer writes nothing, and
  the recommender asset does not train.

The state is one small JSON file per tenant, replaced atomically; every change is appended
to an audit log (who, when, from, to, why) beside it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from ml.registry import current_user

ON, FROZEN, OFF = "on", "frozen", "off"
STATES = (ON, FROZEN, OFF)


@dataclass(frozen=True)
class SwitchRecord:
    state: str
    changed_by: str
    changed_at: str
    reason: str
    previous: str | None = None


class EngineSwitch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.audit_path = path.with_name(path.stem + "_audit.jsonl")

    def current(self) -> SwitchRecord:
        """The stored record; ``on`` (by nobody) when the switch was never set."""
        if not self.path.exists():
            return SwitchRecord(ON, "default", "", "never set")
        try:
            record = SwitchRecord(**json.loads(self.path.read_text()))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{self.path}: unreadable engine switch ({error}); set it again") from error
        if record.state not in STATES:
            raise ValueError(f"{self.path}: unknown engine state {record.state!r}; set it again")
        return record

    @property
    def state(self) -> str:
        return self.current().state

    def set(self, state: str, *, by: str | None = None, reason: str = "") -> SwitchRecord:
        if state not in STATES:
            raise ValueError(f"engine state must be one of {', '.join(STATES)}, got {state!r}")
        previous = self.current().state
        record = SwitchRecord(
            state=state,
            changed_by=by or current_user(),
            changed_at=datetime.now(UTC).isoformat(timespec="seconds"),
            reason=reason,
            previous=previous,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        scratch.write_text(json.dumps(asdict(record)))
        os.replace(scratch, self.path)
        with self.audit_path.open("a") as audit:
            audit.write(json.dumps(asdict(record)) + "\n")
        return record

    def history(self) -> list[SwitchRecord]:
        if not self.audit_path.exists():
            return []
        return [SwitchRecord(**json.loads(line)) for line in self.audit_path.read_text().splitlines() if line]
