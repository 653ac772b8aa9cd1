"""Functions route templates (ASP.NET Core syntax) as Starlette paths.

The Functions host reads ``route`` with ASP.NET Core's template rules: ``{id}``, ``{id:int}``,
``{id:guid}``, an optional last parameter ``{id?}`` and a catch-all ``{*rest}``. Starlette's own
router does the matching; this module only translates templates and registers convertors that
keep values as *strings*, as the host hands them to ``req.route_params``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.convertors import Convertor, register_url_convertor

_CONSTRAINTS = {
    "int": r"-?[0-9]+",
    "long": r"-?[0-9]+",
    "alpha": r"[A-Za-z]+",
    "bool": r"(?i:true|false)",
    "guid": r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}",
    "double": r"-?[0-9]+(?:\.[0-9]+)?",
    "float": r"-?[0-9]+(?:\.[0-9]+)?",
    "decimal": r"-?[0-9]+(?:\.[0-9]+)?",
    "segment": r"[^/]+",
    "rest": r".*",
}
_PARAMETER = re.compile(
    r"^\{(?P<star>\*{1,2})?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<constraint>[a-z]+))?"
    r"(?P<optional>\?)?\}$"
)


class RouteTemplateError(ValueError):
    """A route the Functions host would refuse or read differently; fail at start, not per request."""


def _string_convertor(pattern: str) -> Convertor:
    class StringConvertor(Convertor):
        regex = pattern

        def convert(self, value: str) -> str:
            return value

        def to_string(self, value: str) -> str:
            return str(value)

    return StringConvertor()


for _name, _pattern in _CONSTRAINTS.items():
    register_url_convertor(f"fn{_name}", _string_convertor(_pattern))


@dataclass(frozen=True)
class Template:
    """One route template, translated. ``paths`` has two entries when the last parameter is optional."""

    template: str
    paths: tuple[str, ...]
    literals: int
    parameters: int
    catch_all: bool

    @property
    def precedence(self) -> tuple:
        """Literal segments beat parameters, which beat catch-alls, as in ASP.NET Core routing."""
        return (self.catch_all, self.parameters, -self.literals, self.template)


def shown(template: str, prefix: str) -> str:
    """The route as the Functions host prints it at start: the prefix, then the template as written."""
    return "/" + "/".join(part for part in (prefix.strip("/"), template.strip("/")) if part)


def translate(template: str, prefix: str) -> Template:
    segments = [s for s in template.strip("/").split("/") if s] if template else []
    base = [s for s in prefix.strip("/").split("/") if s]
    out: list[str] = []
    literals = parameters = 0
    optional_at: int | None = None
    catch_all = False
    for index, segment in enumerate(segments):
        if "{" not in segment:
            if "}" in segment:
                raise RouteTemplateError(f"route {template!r}: stray '}}' in {segment!r}")
            out.append(segment)
            literals += 1
            continue
        match = _PARAMETER.match(segment)
        if not match:
            raise RouteTemplateError(
                f"route {template!r}: {segment!r} is not a parameter this dev host supports "
                "({name}, {name:constraint}, {name?}, {*name})"
            )
        last = index == len(segments) - 1
        if match["star"]:
            if not last:
                raise RouteTemplateError(f"route {template!r}: a catch-all must be the last segment")
            out.append(f"{{{match['name']}:fnrest}}")
            catch_all = True
            optional_at = len(out) - 1  # a catch-all also matches nothing
        else:
            constraint = match["constraint"] or "segment"
            if constraint not in _CONSTRAINTS or constraint == "rest":
                raise RouteTemplateError(
                    f"route {template!r}: unsupported constraint {constraint!r} "
                    f"(supported: {', '.join(sorted(set(_CONSTRAINTS) - {'rest'}))})"
                )
            if match["optional"] and not last:
                raise RouteTemplateError(f"route {template!r}: only the last parameter can be optional")
            out.append(f"{{{match['name']}:fn{constraint}}}")
            if match["optional"]:
                optional_at = len(out) - 1
        parameters += 1
    full = "/" + "/".join(base + out)
    paths = [full]
    if optional_at is not None:
        paths.append("/" + "/".join(base + out[:optional_at]))
    return Template(template, tuple(dict.fromkeys(paths)), literals, parameters, catch_all)
