"""The pictures of a protocol: Mermaid text for documents, a standalone SVG for the people who agree on it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from workflows.diagram import mermaid
from workflows.diagram import positions
from workflows.diagram import svg
from workflows.loader import ProtocolLibrary
from workflows.loader import parse
from workflows.loader import template_names
from workflows.protocol import Protocol

SVG = "{http://www.w3.org/2000/svg}"
LANGUAGES = ["fr", "en"]

# A protocol whose words contain everything Mermaid and XML must not read as syntax.
AWKWARD = """
name: awkward
version: 3
title: {fr: 'Essai <&"> : 1', en: 'Trial <&"> : 1'}
description: {fr: 'Pour voir <&">', en: 'To see <&">'}
initial: open
parameters:
  answer_delay:
    title: {fr: Délai, en: Delay}
    default: 4 hours
    min: 1 hour
    max: 8 hours
states:
  open:
    title: {fr: 'Ouvert <&">', en: 'Open <&">'}
    waits_on: receiver
    deadline:
      title: {fr: 'Répondre : "vite"; #1', en: 'Answer: "soon"; #1'}
      steps:
        - after: answer_delay
          kind: reminder
          notify: [{to: receiver, template: deadline_reminder}]
  default:
    title: {fr: 'Par défaut', en: Default}
    terminal: true
  done:
    title: {fr: 'Fait <b>', en: 'Done <b>'}
    terminal: true
transitions:
  - trigger: finish
    title: {fr: 'Finir : "vite"; #1 {x} %% <i>', en: 'Finish: "fast"; #1 {x} %% <i>'}
    from: open
    to: done
    by: [receiver]
  - trigger: finish_for_them
    title: {fr: Finir à sa place, en: Finish for them}
    from: open
    to: done
    by: [receiver_coordinator, system]
  - trigger: give_up
    title: {fr: Abandonner, en: Give up}
    from: open
    to: default
    by: [sender]
  - trigger: nudge
    title: {fr: Relancer, en: Nudge}
    from: open
    to: open
    by: [sender]
"""


@pytest.fixture(scope="module")
def awkward() -> Protocol:
    return parse(AWKWARD, "t.yaml", frozenset({"deadline_reminder"}))


def shipped(library: ProtocolLibrary) -> list[Protocol]:
    protocols = list(library)
    assert {p.name for p in protocols} >= {"standard", "urgent", "accompanied"}
    return protocols


def arrows(protocol: Protocol) -> Counter[tuple[str, str]]:
    """One arrow is expected per transition and source state."""
    return Counter((t.trigger, source) for t in protocol.transitions for source in t.sources)


def picture(protocol: Protocol, language: str = "fr") -> ET.Element:
    """The SVG of `protocol`, parsed: a bare < or & in it would fail here."""
    return ET.fromstring(svg(protocol, language))  # noqa: S314 -- our own output, not untrusted input


def without_entity_codes(text: str) -> str:
    return re.sub(r"#\d+;", "", text)


# Mermaid ----------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_mermaid_shows_every_state_and_transition_of_the_shipped_protocols(
    library: ProtocolLibrary, language: str
) -> None:
    for protocol in shipped(library):
        text = mermaid(protocol, language)
        for name, state in protocol.states.items():
            assert f'state "{state.title.in_language(language)}" as {name}\n' in text
        for transition in protocol.transitions:
            for source in transition.sources:
                title = transition.title.in_language(language)
                assert f"    {source} --> {transition.dest}: {title} (" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_mermaid_starts_with_a_title_block_then_the_diagram(library: ProtocolLibrary, language: str) -> None:
    for protocol in shipped(library):
        lines = mermaid(protocol, language).splitlines()
        assert lines[0] == "---"
        assert lines[1].startswith("title: ")
        assert protocol.spec.title.in_language(language) in lines[1]
        assert f"{protocol.version})" in lines[1]
        assert lines[2] == "---"
        assert lines[3] == "stateDiagram-v2"


def test_mermaid_marks_where_a_referral_starts_and_where_it_may_end(standard: Protocol) -> None:
    lines = mermaid(standard).splitlines()
    assert "    [*] --> draft" in lines
    assert [line for line in lines if line.startswith("    [*]")] == ["    [*] --> draft"]
    ends = {line.split()[0] for line in lines if line.endswith("--> [*]")}
    assert ends == {"closed", "declined", "redirected", "cancelled"}


def test_mermaid_says_who_may_act_and_notes_the_deadlines(standard: Protocol) -> None:
    french = mermaid(standard, "fr")
    assert "    sent --> received: Accuser réception (organisme receveur)\n" in french
    assert "Annuler le référencement (organisme référent, coordination référente)" in french
    note = french.split("    note right of sent\n")[1].split("    end note")[0]
    assert note.split("\n")[:3] == [
        "        Accuser réception",
        "        rappel après 2 jours ouvrables",
        "        escalade après 4 jours ouvrables",
    ]
    english = mermaid(standard, "en")
    assert "reminder after 2 business days" in english
    assert "Cancel the referral (sending organization, sending coordinator)" in english


def test_mermaid_escapes_what_its_parser_would_misread(awkward: Protocol) -> None:
    text = mermaid(awkward, "fr")
    lines = text.splitlines()
    assert lines[1] == 'title: "Essai <&\\"> : 1 (version 3)"'
    (state,) = [line for line in lines if line.endswith(" as open")]
    assert state == '    state "Ouvert #60;#38;#34;#62;" as open'
    (finish,) = [line for line in lines if line.startswith("    open --> done: Finir #")]
    label = finish.split("open --> done: ", 1)[1]
    assert not set(without_entity_codes(label)) & set(':;"#%{}<>&')
    assert label.startswith("Finir #58; #34;vite#34;#59; #35;1")
    note = text.split("note right of open\n")[1].split("end note")[0]
    assert not set(without_entity_codes(note)) & set(':;"#')
    # "default" would read as a Mermaid keyword
    assert '    state "Par défaut" as state_default' in lines
    assert "    state_default --> [*]" in lines


def test_mermaid_refuses_a_language_it_does_not_speak(standard: Protocol) -> None:
    with pytest.raises(ValueError, match="unknown language 'de'"):
        mermaid(standard, "de")


# SVG: layout -------------------------------------------------------------------


def test_states_stand_in_columns_by_their_distance_from_the_initial_state(standard: Protocol) -> None:
    placed = positions(standard)
    columns = {state: column for state, (column, _) in placed.items()}
    assert columns == {
        "draft": 0,
        "sent": 1,
        "cancelled": 1,
        "received": 2,
        "accepted": 3,
        "declined": 3,
        "redirected": 3,
        "in_progress": 4,
        "followed_up": 5,
        "closed": 5,
    }
    assert len(set(placed.values())) == len(placed)  # one state per place


# SVG: the picture --------------------------------------------------------------


def rect(element: ET.Element) -> tuple[float, float, float, float]:
    return tuple(float(element.get(a, "nan")) for a in ("x", "y", "width", "height"))  # type: ignore[return-value]


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def states_of(root: ET.Element) -> dict[str, ET.Element]:
    groups = root.findall(f"{SVG}g[@class='state']")
    found = {g.get("data-state"): g for g in groups}
    assert len(found) == len(groups), "a state is drawn twice"
    return found  # type: ignore[return-value]


@pytest.mark.parametrize("language", LANGUAGES)
def test_svg_draws_each_state_once_and_an_arrow_per_transition_and_source(
    library: ProtocolLibrary, language: str
) -> None:
    for protocol in shipped(library):
        root = picture(protocol, language)
        states = states_of(root)
        assert set(states) == set(protocol.states)
        for name, group in states.items():
            texts = [t.text for t in group.iter(f"{SVG}text")]
            assert texts[0] == protocol.states[name].title.in_language(language)
        drawn = Counter(
            (path.get("data-trigger"), path.get("data-source"))
            for path in root.findall(f"{SVG}path[@class='transition']")
        )
        assert drawn == arrows(protocol)
        labels = {t.text for t in root.iter(f"{SVG}text")}
        assert {t.title.in_language(language) for t in protocol.transitions} <= labels


def test_svg_is_accessible_and_titled(standard: Protocol) -> None:
    root = picture(standard)
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None
    assert desc is not None
    assert title.text == "Référencement standard (version 1)"
    assert desc.text == standard.spec.description.fr
    assert root.get("aria-labelledby", "").split() == [title.get("id"), desc.get("id")]
    assert root.find(f".//{SVG}script") is None


def test_svg_tells_final_states_and_adjustable_delays_apart(standard: Protocol) -> None:
    root = picture(standard)
    for name, group in states_of(root).items():
        borders = len(group.findall(f"{SVG}rect"))
        assert borders == (2 if standard.is_terminal(name) else 1), name
    sent = [t.text for t in states_of(root)["sent"].iter(f"{SVG}text")]
    assert sent == [
        "Envoyé",
        "Accuser réception",
        "rappel après 2 jours ouvrables*",
        "escalade après 4 jours ouvrables*",
    ]
    assert root.find(f"{SVG}circle[@class='start']") is not None


@pytest.mark.parametrize("language", LANGUAGES)
def test_svg_keeps_states_and_labels_apart_and_inside_the_picture(
    library: ProtocolLibrary, awkward: Protocol, language: str
) -> None:
    for protocol in [*shipped(library), awkward]:
        root = picture(protocol, language)
        width, height = float(root.get("width", 0)), float(root.get("height", 0))
        boxes = [rect(g.find(f"{SVG}rect")) for g in states_of(root).values()]  # type: ignore[arg-type]
        labels = [rect(g.find(f"{SVG}rect")) for g in root.findall(f"{SVG}g[@class='label']")]  # type: ignore[arg-type]
        for n, a in enumerate(boxes + labels):
            assert a[0] >= 0
            assert a[1] >= 0
            assert a[0] + a[2] <= width
            assert a[1] + a[3] <= height
            for b in (boxes + labels)[n + 1 :]:
                assert not overlap(a, b), (protocol.name, a, b)


def test_svg_draws_self_loops_and_parallel_arrows_apart(awkward: Protocol, accompanied: Protocol) -> None:
    root = picture(accompanied, "en")
    (loop,) = root.findall(f"{SVG}path[@data-trigger='reschedule_meeting']")
    assert loop.get("data-source") == loop.get("data-dest") == "meeting_planned"
    root = picture(awkward, "en")
    parallel = [p.get("d") for p in root.findall(f"{SVG}path[@data-dest='done']")]
    assert len(parallel) == 2
    assert parallel[0] != parallel[1]


@pytest.mark.parametrize("language", LANGUAGES)
def test_svg_escapes_text(awkward: Protocol, language: str) -> None:
    text = svg(awkward, language)
    root = picture(awkward, language)
    state = awkward.states["open"].title.in_language(language)
    assert next(t.text for t in states_of(root)["open"].iter(f"{SVG}text")) == state
    assert state.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in text
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == f"{awkward.spec.title.in_language(language)} (version 3)"


def test_svg_refuses_a_language_it_does_not_speak(standard: Protocol) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        svg(standard, "es")


def test_the_readme_example_is_a_valid_protocol_that_draws() -> None:
    readme = Path(__file__).resolve().parents[2] / "workflows" / "README.md"
    example = readme.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    protocol = parse(example, "example.v1.yaml", template_names())
    assert (protocol.name, protocol.version) == ("example", 1)
    assert set(states_of(picture(protocol))) == set(protocol.states)
    assert "    [*] --> draft" in mermaid(protocol)
