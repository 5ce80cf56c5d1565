"""The address book (carnet d'adresses): the people an organization works with at its partners.

A coordinator writes it, her whole team reads it, another organization sees
nothing of it; a person who left drops out of the lists but stays named where
she was a contact; every change is in the audit log; the book goes out as
vCard and CSV files that other programs read back.
"""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
import vobject
from sqlalchemy import func
from sqlalchemy import select

from service.accounts.models import Role
from service.address_book import operations
from service.address_book.errors import BookNotAllowed
from service.address_book.errors import EntryRefused
from service.address_book.models import ContactPerson
from service.address_book.operations import PersonDetails
from service.address_book.queries import book as address_book
from service.audit.models import AuditEntry
from service.directory.operations import PartnershipTerms
from service.directory.operations import create_partnership
from service.directory.sheet_columns import guess_mapping
from service.directory.sheet_import import import_sheet
from service.directory.sheet_reading import read_sheet
from service.standards.taxonomy_map import load_map
from tests.conftest import sign_in
from tests.service.test_directory_operations import make_user


@pytest.fixture
def as_(app, session):
    """A browser signed in as `actor`."""

    def signed_in(actor):
        return sign_in(app.test_client(), actor, session)

    return signed_in


@pytest.fixture
def partnership(session, network, clock):
    """The shelter and the women's centre work together; their old contact field names someone in text."""
    return create_partnership(
        session,
        network.shelter.coordinator,
        network.shelter.organization.id,
        network.womens_centre.organization.id,
        PartnershipTerms(
            kinds=("referral_protocol",),
            contacts={network.womens_centre.organization.id: "Ginette (ancienne)"},
        ),
        clock=clock,
    )


def person_form(organization_id: int, **changes: str) -> dict[str, object]:
    form = {
        "name": "Hélène Côté-Lévesque",
        "organization": organization_id,
        "role": "Intervenante à l'accueil",
        "email": "helene.cote@centre-fictif.example.org",
        "phone": "450 555-0142",
        "languages": "français, English",
        "notes": "Joignable le matin.",
    }
    return {**form, **changes}


def add(session, network, clock, name: str, **details: str) -> ContactPerson:
    """The shelter's coordinator writes someone of the women's centre in the shelter's book."""
    return operations.add_person(
        session,
        network.shelter.coordinator,
        PersonDetails(name=name, organization_id=network.womens_centre.organization.id, **details),
        clock=clock,
    )


def entry(session, person_id: int) -> ContactPerson:
    """The entry as the database has it now (a refused request rolled the session back)."""
    query = select(ContactPerson).where(ContactPerson.id == person_id)
    return session.scalars(query.execution_options(populate_existing=True)).one()


def text_of(page) -> str:
    return unescape(page.text)


def test_a_coordinator_writes_the_book_and_her_team_reads_it(as_, network, session):
    coordinator = as_(network.shelter.coordinator)
    assert 'href="/address-book/"' in coordinator.get("/").text  # "Carnet d'adresses" in the menu
    added = coordinator.post(
        "/address-book/new", data=person_form(network.womens_centre.organization.id), follow_redirects=True
    )
    assert added.status_code == 200
    assert "Hélène Côté-Lévesque est ajoutée au carnet d’adresses." in text_of(added)  # noqa: RUF001
    person = session.scalars(select(ContactPerson)).one()
    assert person.book_organization_id == network.shelter.organization.id
    assert person.languages == ["français", "English"]

    english = coordinator.get(f"/address-book/{person.id}?lang=en").text
    assert "Organization where she works" in english
    assert "She left the organization" in english
    coordinator.get("/address-book/?lang=fr")  # the choice sticks: back to French

    caseworker = as_(network.shelter.caseworker)
    book = text_of(caseworker.get("/address-book/"))
    assert "Carnet d’adresses" in book  # noqa: RUF001
    assert "Hélène Côté-Lévesque" in book
    assert "helene.cote@centre-fictif.example.org" in book
    assert "Ajouter une personne" not in book  # she reads, she does not write
    assert caseworker.get(f"/address-book/{person.id}").status_code == 200
    assert (
        caseworker.post("/address-book/new", data=person_form(network.shelter.organization.id)).status_code
        == 403
    )
    edited = caseworker.post(f"/address-book/{person.id}/edit", data=person_form(1, name="Autre nom"))
    assert edited.status_code == 403
    assert caseworker.post(f"/address-book/{person.id}/left").status_code == 403
    unchanged = entry(session, person.id)
    assert (unchanged.name, unchanged.left_at) == ("Hélène Côté-Lévesque", None)

    saved = coordinator.post(
        f"/address-book/{person.id}/edit",
        data=person_form(network.womens_centre.organization.id, role="Coordonnatrice clinique"),
        follow_redirects=True,
    )
    assert "La fiche est enregistrée." in text_of(saved)
    assert entry(session, person.id).role == "Coordonnatrice clinique"


def test_the_operations_refuse_a_caseworker_and_a_person_outside_the_partnership(
    session, network, clock, partnership
):
    with pytest.raises(BookNotAllowed):
        operations.add_person(
            session,
            network.shelter.caseworker,
            PersonDetails(name="Quelqu'une", organization_id=network.womens_centre.organization.id),
            clock=clock,
        )
    bystander = operations.add_person(
        session,
        network.shelter.coordinator,
        PersonDetails(name="Avocate Fictive", organization_id=network.legal_aid.organization.id),
        clock=clock,
    )
    with pytest.raises(EntryRefused) as refused:
        operations.name_partnership_contacts(
            session, network.shelter.coordinator, partnership.id, [bystander.id], clock=clock
        )
    assert refused.value.rule == "not_a_side"


def test_another_organization_sees_nothing_of_the_book(as_, network, session, clock, partnership):
    person = add(session, network, clock, "Hélène Côté", email="helene@centre.example.org")
    outsider = as_(network.legal_aid.coordinator)
    for path in (f"/address-book/{person.id}", f"/address-book/{person.id}/edit"):
        assert outsider.get(path).status_code == 404
    for path in (f"/address-book/{person.id}/edit", f"/address-book/{person.id}/left"):
        assert outsider.post(path, data=person_form(network.legal_aid.organization.id)).status_code == 404
    assert outsider.get(f"/address-book/partnerships/{partnership.id}").status_code == 404
    assert "Hélène" not in outsider.get("/address-book/").text
    assert "Hélène" not in outsider.get("/address-book/address-book.vcf").text
    assert "Hélène" not in outsider.get("/address-book/address-book.csv").text
    assert (
        "Hélène" not in outsider.get(f"/directory/organizations/{network.womens_centre.organization.id}").text
    )
    unchanged = entry(session, person.id)
    assert unchanged.left_at is None
    assert unchanged.name == "Hélène Côté"
    # The shelter's own team sees her on the women's centre's page; a regional admin has no book at all.
    own = as_(network.shelter.caseworker).get(
        f"/directory/organizations/{network.womens_centre.organization.id}"
    )
    assert "Hélène Côté" in own.text
    admin = as_(make_user(session, Role.REGIONAL_ADMIN, None, clock))
    assert admin.get("/address-book/").status_code == 403
    assert admin.get(f"/address-book/{person.id}").status_code == 403
    assert "Hélène Côté" not in admin.get(f"/directory/partnerships/{partnership.id}").text


def test_bad_input_gets_french_errors(as_, network, session):
    coordinator = as_(network.shelter.coordinator)
    page = coordinator.post("/address-book/new", data=person_form(0, name="  ", email="pas-un-courriel"))
    assert page.status_code == 200
    text = text_of(page)
    assert "Veuillez corriger ce qui suit" in text
    assert "Inscrivez le nom de la personne." in text
    assert "Choisissez l’organisme où elle travaille." in text  # noqa: RUF001
    assert "Entrez une adresse courriel comme nom@example.org." in text
    assert session.scalars(select(ContactPerson)).first() is None
    long_phone = coordinator.post(
        "/address-book/new", data=person_form(network.womens_centre.organization.id, phone="5" * 41)
    )
    assert long_phone.status_code == 200
    assert session.scalars(select(ContactPerson)).first() is None
    assert coordinator.get("/address-book/999999").status_code == 404


def test_a_person_who_left_drops_from_the_lists_but_stays_on_the_partnership(
    as_, network, session, clock, partnership
):
    stays = add(session, network, clock, "Nadia Bouchard", role="Coordonnatrice")
    leaves = add(session, network, clock, "Ginette Tremblay", role="Intervenante")
    ours = operations.add_person(
        session,
        network.shelter.coordinator,
        PersonDetails(name="Julie Ouellet", organization_id=network.shelter.organization.id),
        clock=clock,
    )
    coordinator = as_(network.shelter.coordinator)
    form_page = text_of(coordinator.get(f"/address-book/partnerships/{partnership.id}"))
    assert "Personnes-ressources chez Centre de femmes Fictif des Rivières" in form_page
    saved = coordinator.post(
        f"/address-book/partnerships/{partnership.id}",
        data={"first_side": [ours.id], "second_side": [stays.id, leaves.id]},
        follow_redirects=True,
    )
    assert "Les personnes-ressources du partenariat sont enregistrées." in text_of(saved)
    # The other side reads whom the shelter named, and the old free-text contact is still shown.
    other_side = text_of(
        as_(network.womens_centre.coordinator).get(f"/directory/partnerships/{partnership.id}")
    )
    assert "Ginette Tremblay" in other_side
    assert "Julie Ouellet" in other_side
    assert "Ginette (ancienne)" in other_side
    assert (
        "Ginette Tremblay"
        not in as_(network.legal_aid.caseworker).get(f"/directory/partnerships/{partnership.id}").text
    )

    marked = coordinator.post(f"/address-book/{leaves.id}/left", follow_redirects=True)
    assert "Ginette Tremblay est indiquée comme ayant quitté l’organisme" in text_of(marked)  # noqa: RUF001
    book = text_of(coordinator.get("/address-book/"))
    assert "Nadia Bouchard" in book
    assert "Ginette Tremblay" not in book
    with_left = text_of(coordinator.get("/address-book/?q=&include_left=y"))
    assert "Ginette Tremblay" in with_left
    assert "a quitté l’organisme" in with_left  # noqa: RUF001
    organization_page = text_of(
        coordinator.get(f"/directory/organizations/{network.womens_centre.organization.id}")
    )
    assert "Nadia Bouchard" in organization_page
    assert "Ginette Tremblay" not in organization_page
    assert "Ginette Tremblay" not in coordinator.get("/address-book/address-book.vcf").text
    history = text_of(coordinator.get(f"/directory/partnerships/{partnership.id}"))
    assert re.search(r"Ginette Tremblay.*?a quitté l’organisme", history, re.S)  # noqa: RUF001
    assert "Contact of" not in history
    entry = text_of(coordinator.get(f"/address-book/{leaves.id}"))
    assert "A quitté l’organisme" in entry  # noqa: RUF001
    assert "Maison Fictive du Phare et Centre de femmes" in entry
    # Saving the partnership's contacts again without her takes her off it.
    coordinator.post(
        f"/address-book/partnerships/{partnership.id}",
        data={"first_side": [ours.id], "second_side": [stays.id]},
    )
    assert "Ginette Tremblay" not in coordinator.get(f"/directory/partnerships/{partnership.id}").text


def test_every_change_is_in_the_audit_log(as_, network, session, clock, partnership):
    coordinator = as_(network.shelter.coordinator)
    coordinator.post("/address-book/new", data=person_form(network.womens_centre.organization.id))
    person = session.scalars(select(ContactPerson)).one()
    coordinator.post(
        f"/address-book/{person.id}/edit",
        data=person_form(network.womens_centre.organization.id, role="Directrice"),
    )
    coordinator.post(f"/address-book/partnerships/{partnership.id}", data={"second_side": [person.id]})
    coordinator.post(f"/address-book/{person.id}/left")
    coordinator.post(f"/address-book/{person.id}/back")
    coordinator.get("/address-book/address-book.vcf")
    as_(network.shelter.caseworker).get("/address-book/address-book.csv")
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action.like("address_book.%") | AuditEntry.action.like("partnership.%"))
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.contact_person_id) for e in entries] == [
        ("address_book.added", person.id),
        ("address_book.updated", person.id),
        ("partnership.contact_named", person.id),
        ("address_book.left", person.id),
        ("address_book.returned", person.id),
        ("address_book.exported_vcard", None),
        ("address_book.exported_csv", None),
    ]
    assert {e.organization_id for e in entries} == {network.shelter.organization.id}
    assert entries[0].user_id == network.shelter.coordinator.user_id
    assert entries[-1].user_id == network.shelter.caseworker.user_id
    log = text_of(as_(network.shelter.coordinator).get("/audit"))
    assert "Carnet d’adresses : personne ajoutée (Hélène Côté-Lévesque)" in log  # noqa: RUF001


def test_the_vcard_file_is_read_back_by_a_vcard_parser(as_, network, session, clock):
    add(
        session,
        network,
        clock,
        "Hélène Côté-Lévesque",
        email="helene@centre.example.org",
        phone="450 555-0142",
        role="Intervenante",
        notes="Présente les mardis; demande « Hélène »",
        languages=("français", "español"),
    )
    add(session, network, clock, "Zoé", email="zoe@centre.example.org")
    left = add(session, network, clock, "Partie Ailleurs")
    operations.mark_left(session, network.shelter.coordinator, left.id, clock=clock)

    response = as_(network.shelter.caseworker).get("/address-book/address-book.vcf")
    assert response.status_code == 200
    assert response.mimetype == "text/vcard"
    assert "carnet-d-adresses.vcf" in response.headers["Content-Disposition"]
    cards = list(vobject.readComponents(response.data.decode("utf-8")))
    assert [card.fn.value for card in cards] == ["Hélène Côté-Lévesque", "Zoé"]
    helene, zoe = cards
    assert helene.version.value == "3.0"
    assert (helene.n.value.family, helene.n.value.given) == ("Côté-Lévesque", "Hélène")
    assert helene.email.value == "helene@centre.example.org"
    assert helene.tel.value == "450 555-0142"
    assert helene.title.value == "Intervenante"
    assert helene.org.value == ["Centre de femmes Fictif des Rivières"]
    assert helene.note.value == "Présente les mardis; demande « Hélène »\nLangues : français, español"
    assert zoe.n.value.given == "Zoé"
    assert zoe.email.value == "zoe@centre.example.org"
    assert "tel" not in zoe.contents


def test_the_csv_file_opens_in_a_french_spreadsheet_and_runs_no_formula(as_, network, session, clock):
    add(session, network, clock, '=HYPERLINK("http://example.org")', email="x@centre.example.org")
    add(session, network, clock, "Hélène Côté", phone="+1 450 555-0142", languages=("français",))
    response = as_(network.shelter.coordinator).get("/address-book/address-book.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0] == ["Nom", "Rôle", "Organisme", "Courriel", "Téléphone", "Langues", "Notes"]
    by_name = {row[0]: row for row in rows[1:]}
    assert '\'=HYPERLINK("http://example.org")' in by_name
    assert by_name["Hélène Côté"][4] == "'+1 450 555-0142"
    assert by_name["Hélène Côté"][2] == "Centre de femmes Fictif des Rivières"


def test_the_spreadsheet_import_writes_contact_people_into_their_organizations_book(session, network, clock):
    admin = make_user(session, Role.REGIONAL_ADMIN, None, clock)
    header = "Nom de l'organisme;Personne contact;Fonction;Courriel du contact;Téléphone du contact"
    shelter = network.shelter.organization.name

    def importing(*rows: str):
        data = "\r\n".join([header, *rows, ""]).encode("cp1252")
        sheet = read_sheet(data, "annuaire.csv", max_bytes=1_000_000)
        mapping = guess_mapping(sheet.headers)
        return import_sheet(session, admin, sheet, mapping, load_map(), dry_run=False, clock=clock)

    rows = (
        f"{shelter};Hélène Côté;Intervenante;helene@phare.example.org;450 555-0142",
        "Maison Fictive Nouvelle;Zoé Gagnon;Directrice;;",
        f"{shelter};hélène cote;;;",  # the same person again, spelled otherwise: one entry
    )
    first = importing(*rows)
    assert first.written
    assert [(c.name, c.outcome) for c in first.changes if c.kind == "contact"] == [
        ("Hélène Côté", "created"),
        ("Zoé Gagnon", "created"),
    ]
    people = {p.name: p for p in session.scalars(select(ContactPerson))}
    helene = people["Hélène Côté"]
    assert helene.book_organization_id == helene.organization_id == network.shelter.organization.id
    assert (helene.role, helene.email, helene.phone) == (
        "Intervenante",
        "helene@phare.example.org",
        "450 555-0142",
    )
    assert people["Zoé Gagnon"].organization.name == "Maison Fictive Nouvelle"
    # The shelter's team reads her in its book; its coordinator may now name her on a partnership.
    assert [p.name for p in address_book(session, network.shelter.organization.id)] == ["Hélène Côté"]

    again = importing(*rows)
    assert [c.outcome for c in again.changes if c.kind == "contact"] == ["unchanged", "unchanged"]
    changed = importing(f"{shelter};Hélène Côté;Coordonnatrice;;")
    assert [(c.name, c.outcome) for c in changed.changes if c.kind == "contact"] == [
        ("Hélène Côté", "updated")
    ]
    assert entry(session, helene.id).role == "Coordonnatrice"
    assert entry(session, helene.id).email == "helene@phare.example.org"  # an empty cell keeps it
    assert session.scalar(select(func.count()).select_from(ContactPerson)) == 2
    actions = session.execute(
        select(AuditEntry.action, AuditEntry.contact_person_id, AuditEntry.user_id)
        .where(AuditEntry.action.like("address_book.%"))
        .order_by(AuditEntry.id)
    ).all()
    assert actions == [
        ("address_book.added", helene.id, admin.user_id),
        ("address_book.added", people["Zoé Gagnon"].id, admin.user_id),
        ("address_book.updated", helene.id, admin.user_id),
    ]


def test_a_coordinator_erases_an_entry_for_good_when_she_asks(as_, network, session, clock, partnership):
    person = add(session, network, clock, "Hélène Côté-Lévesque", email="helene@centre-fictif.example.org")
    operations.name_partnership_contacts(session, network.shelter.coordinator, partnership.id, [person.id])
    caseworker = as_(network.shelter.caseworker)
    assert caseworker.post(f"/address-book/{person.id}/erase").status_code == 403
    assert as_(network.womens_centre.coordinator).get(f"/address-book/{person.id}/erase").status_code == 404
    coordinator = as_(network.shelter.coordinator)
    assert "Hélène" in text_of(coordinator.get(f"/directory/partnerships/{partnership.id}"))

    asked = text_of(coordinator.get(f"/address-book/{person.id}/erase"))
    assert "Supprimer Hélène Côté-Lévesque du carnet d’adresses" in asked  # noqa: RUF001
    assert session.get(ContactPerson, person.id) is not None, "opening the page erases nothing"
    erased = coordinator.post(f"/address-book/{person.id}/erase", follow_redirects=True)

    assert "Hélène Côté-Lévesque est supprimée du carnet d’adresses." in text_of(erased)  # noqa: RUF001
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ContactPerson)) == 0
    assert "Hélène" not in text_of(coordinator.get(f"/directory/partnerships/{partnership.id}"))
    about_her = select(AuditEntry).where(AuditEntry.action.like("address_book.%"))
    actions = [(e.action, e.contact_person_id) for e in session.scalars(about_her.order_by(AuditEntry.id))]
    assert actions == [("address_book.added", None), ("address_book.erased", None)]
    log = text_of(coordinator.get("/audit"))
    assert "Carnet d’adresses : fiche supprimée" in log  # noqa: RUF001
    assert "Hélène" not in log
    assert coordinator.get(f"/address-book/{person.id}").status_code == 404
