"""template.yaml as data: load it (with CloudFormation's short tags) and resolve intrinsics.

The local runtime reads the wiring from here instead of repeating it in Python.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(RuntimeError):
    pass


@dataclass
class Template:
    path: Path
    body: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path = "template.yaml") -> Template:
        path = Path(path)
        return cls(path=path, body=yaml_parse(path.read_text()))

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.body.get("Resources", {})

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r.get("Type") in types}

    def parameter_defaults(self) -> dict[str, Any]:
        return {name: p.get("Default") for name, p in self.body.get("Parameters", {}).items()}

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's properties with Globals.Function merged in, as SAM does."""
        merged = copy.deepcopy(self.body.get("Globals", {}).get("Function", {}))
        own = self.resources[logical_id].get("Properties", {})
        for key, value in own.items():
            if key == "Environment":
                variables = merged.setdefault("Environment", {}).setdefault("Variables", {})
                variables.update(value.get("Variables", {}))
            else:
                merged[key] = copy.deepcopy(value)
        return merged


@dataclass
class Resolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::Join against values the runtime supplies."""

    pseudo: dict[str, str]  # AWS::Region, AWS::AccountId, AWS::StackName, ...
    refs: dict[str, Any] = field(default_factory=dict)  # logical id or parameter -> Ref value
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)  # (logical id, attr) -> value

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                name, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self._lookup(self.attributes, (name, attr), f"!GetAtt {name}.{attr}")
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(p) for p in self.resolve(parts))
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        return self._lookup(self.refs, name, f"!Ref {name}")

    def _sub(self, arg: Any) -> str:
        text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                return str(self._lookup(self.attributes, (logical, attr), f"${{{name}}}"))
            return str(self._ref(name))

        return _SUB_VAR.sub(replace, text)

    @staticmethod
    def _lookup(table: dict[Any, Any], key: Any, what: str) -> Any:
        try:
            return table[key]
        except KeyError:
            raise TemplateError(f"template.yaml: cannot resolve {what} locally") from None
