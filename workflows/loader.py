"""Reading protocol files: YAML in, checked `Protocol` objects or located problems out."""

from __future__ import annotations

from collections.abc import Collection
from collections.abc import Iterable
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import ValidationError

from workflows.checks import check_protocol
from workflows.errors import Problem
from workflows.errors import ProtocolError
from workflows.errors import ProtocolNotFound
from workflows.protocol import Protocol
from workflows.schema import ProtocolFile

PROTOCOLS_FOLDER = Path(__file__).resolve().parent / "protocols"


def _templates_folder() -> Path:
    # The wheel installs the checkout's top-level templates/ inside this package (build_steps.py).
    installed = Path(__file__).resolve().parent / "templates"
    return installed if installed.is_dir() else installed.parent.parent / "templates"


TEMPLATES_FOLDER = _templates_folder()
"""The pages' and emails' templates: `templates/` of the checkout, or its copy in the wheel."""
EMAIL_TEMPLATES_FOLDER = TEMPLATES_FOLDER / "email"


def template_names(folder: Path = EMAIL_TEMPLATES_FOLDER) -> frozenset[str]:
    """Names a protocol may notify with: one per `NAME.txt` email template."""
    if not folder.is_dir():
        # Else every protocol would be refused for templates it names, far from the cause.
        raise FileNotFoundError(
            f"no email templates in {folder}: Maillage is installed without its templates/"
        )
    return frozenset(path.name.removesuffix(".txt") for path in folder.glob("*.txt"))


def load_file(path: Path, templates: Collection[str] | None = None) -> Protocol:
    """Read, check and compile one protocol file, or raise `ProtocolError`."""
    templates = template_names() if templates is None else templates
    name = str(path)
    if path.is_dir():
        raise ProtocolError([Problem(name, "", "is a folder; name the protocol files inside it")])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProtocolError([Problem(name, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ProtocolError([Problem(name, "", f"cannot be read: {error}")]) from None
    return parse(text, name, templates)


def parse(text: str, file: str, templates: Collection[str]) -> Protocol:
    """Check and compile a protocol from its YAML text; `file` names it in messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        what = getattr(error, "problem", None) or str(error)
        raise ProtocolError([Problem(file, "", f"not valid YAML: {what}", line)]) from None
    if not isinstance(data, dict):
        raise ProtocolError([Problem(file, "", "must be a mapping of fields (name, version, states, ...)")])
    problems = list(_duplicate_keys(root, file))
    try:
        spec = ProtocolFile.model_validate(data)
    except ValidationError as error:
        for e in error.errors():
            problem = _located(file, root, list(e["loc"]), _plain(e))
            # A field that may be a name or a list fails once per form: say it once.
            if not any(p.path == problem.path and p.line == problem.line for p in problems):
                problems.append(problem)
        raise ProtocolError(problems) from None
    problems += [
        _located(file, root, _split(path), message) for path, message in check_protocol(spec, templates)
    ]
    if problems:
        raise ProtocolError(problems)
    return Protocol(spec, file)


def check_files(paths: Iterable[Path], templates: Collection[str] | None = None) -> list[Problem]:
    """Every problem in these files, and across them (a name and version used twice)."""
    problems: list[Problem] = []
    seen: dict[tuple[str, int], str] = {}
    for path in paths:
        try:
            protocol = load_file(path, templates)
        except ProtocolError as error:
            problems += error.problems
            continue
        key = (protocol.name, protocol.version)
        if key in seen:
            problems.append(
                Problem(
                    str(path), "version", f"{protocol.name} version {protocol.version} is also in {seen[key]}"
                )
            )
        seen[key] = str(path)
    return problems


class ProtocolLibrary:
    """Every loaded version of every protocol, by name and version."""

    def __init__(self, protocols: Iterable[Protocol]) -> None:
        self._protocols: dict[tuple[str, int], Protocol] = {}
        for protocol in protocols:
            key = (protocol.name, protocol.version)
            if key in self._protocols:
                other = self._protocols[key].file
                message = f"{protocol.name} version {protocol.version} is also in {other}"
                raise ProtocolError([Problem(protocol.file, "version", message)])
            self._protocols[key] = protocol

    def get(self, name: str, version: int | None = None) -> Protocol:
        """The given version, or the newest one when `version` is None."""
        if version is None:
            versions = self.versions(name)
            if not versions:
                raise ProtocolNotFound(name)
            version = versions[-1]
        try:
            return self._protocols[(name, version)]
        except KeyError:
            raise ProtocolNotFound(name, version) from None

    def versions(self, name: str) -> list[int]:
        return sorted(version for (n, version) in self._protocols if n == name)

    def latest(self, subject: str | None = "referral") -> list[Protocol]:
        """The newest version of each protocol of `subject` (every subject with None), by name.

        Referrals are the default: a request to join the network is no protocol an agreement
        between two organizations may choose.
        """
        names = sorted({name for name, _ in self._protocols})
        newest = [self.get(name) for name in names]
        return [p for p in newest if subject is None or p.subject == subject]

    def __iter__(self) -> Iterator[Protocol]:
        return iter(self._protocols[key] for key in sorted(self._protocols))


def load_library(
    folder: Path = PROTOCOLS_FOLDER, templates: Collection[str] | None = None
) -> ProtocolLibrary:
    """Load every `*.yaml` protocol in `folder`; refuse them all if any is wrong."""
    templates = template_names() if templates is None else templates
    paths = sorted(folder.glob("*.yaml"))
    problems = check_files(paths, templates)
    if problems:
        raise ProtocolError(problems)
    return ProtocolLibrary(load_file(path, templates) for path in paths)


# Locating problems in the file ------------------------------------------------


def _plain(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required but missing"
    if kind == "string_pattern_mismatch":
        return "use lowercase letters, digits and underscores, starting with a letter"
    # pydantic names the branch of a union it tried; our only union is `from`.
    if any(part == "str" or str(part).startswith("list[") for part in error["loc"]):
        return "must be a name or a list of names"
    return str(error["msg"]).removeprefix("Value error, ")


def _split(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for part in path.replace("[", ".[").split("."):
        if part.startswith("["):
            parts.append(int(part[1:-1]))
        elif part:
            parts.append(part)
    return parts


def _join(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def _located(file: str, root: yaml.Node | None, parts: list[str | int], message: str) -> Problem:
    # pydantic adds the member's type to the path of a union ("str", "list[str]"): drop it.
    parts = [p for p in parts if not (isinstance(p, str) and ("[" in p or p in {"str", "int"}))]
    return Problem(file, _join(parts), message, _line(root, parts))


def _line(node: yaml.Node | None, parts: list[str | int]) -> int | None:
    """The line of the deepest node of the file along `parts`."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _duplicate_keys(node: yaml.Node | None, file: str, path: str = "") -> Iterator[Problem]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            child = f"{path}.{key.value}" if path else str(key.value)
            if key.value in seen:
                yield Problem(
                    file,
                    child,
                    "defined twice; the second would silently replace the first",
                    key.start_mark.line + 1,
                )
            seen.add(key.value)
            yield from _duplicate_keys(value, file, child)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, file, f"{path}[{i}]")
