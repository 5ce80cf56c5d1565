"""A fictional, Laval-like network to try Maillage with: `maillage demo`.

Every organization, person and telephone number here is made up (the numbers
are in the 555-01xx range kept for fiction). The directory and the accounts
are written as seed data; every referral is opened, consented to and moved
only by the domain operations, on a clock that walks through the last weeks,
so the timelines, reminders and escalations are those the service would have
written. Loading twice changes nothing.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.accounts.mfa import mfa_required
from service.accounts.models import Role
from service.accounts.models import User
from service.accounts.passwords import hash_password
from service.clock import utcnow
from service.directory.agreements import current_agreement
from service.directory.models import Need
from service.directory.models import Organization
from service.directory.models import Partnership
from service.directory.models import PartnershipNote
from service.directory.models import ReferralAgreement
from service.directory.models import Service
from service.referrals.actors import Actor
from service.referrals.models import Referral
from service.referrals.operations import PersonDetails
from service.referrals.operations import fire
from service.referrals.operations import open_referral
from service.referrals.operations import record_consent
from service.referrals.operations import run_due_deadline
from workflows.durations import TIME_ZONE
from workflows.loader import ProtocolLibrary
from workflows.protocol import Protocol
from workflows.protocol import Transition

# Printed by `maillage demo` for everyone to read: a demo's password, not a secret.
DEMO_PASSWORD = "maillage-demo-2026"  # noqa: S105
# Their second factor, for the roles that require one: printed too (development only), not a secret.
DEMO_TOTP_SECRET = "MAILLAGEDEMOTWOSTEPSIGNINKEYABCD"  # noqa: S105
DEMO_DOMAIN = "demo.example"  # a reserved name: no mail can reach anyone through it
REGIONAL_ADMIN_EMAIL = f"table.regionale@{DEMO_DOMAIN}"

# How a demo person is named: "Intervenante fictive Balance".
ROLE_NAMES = {
    Role.CASEWORKER: "Intervenante",
    Role.COORDINATOR: "Coordonnatrice",
    Role.PARTNER_CONTACT: "Répondante",
    Role.PRIVACY_OFFICER: "Responsable de la confidentialité",
}
ROLE_WORDS = {
    Role.CASEWORKER: "intervenante",
    Role.COORDINATOR: "coordination",
    Role.PARTNER_CONTACT: "repondante",
    Role.PRIVACY_OFFICER: "confidentialite",
}


@dataclass(frozen=True)
class OrganizationSeed:
    key: str
    name: str
    kind: str
    mandate: str
    territory: str
    languages: tuple[str, ...]
    accessibility: str
    hours: str
    phone: str
    capacity: str | None
    services: tuple[tuple[str, str, tuple[str, ...]], ...]
    roles: tuple[Role, ...] = (Role.CASEWORKER, Role.COORDINATOR)
    # Shorter than the regional maximum, shown on the privacy page; None: the maximum.
    retention_months: int | None = None

    @property
    def email(self) -> str:
        return f"referencement.{self.key}@{DEMO_DOMAIN}"


# Who each kind of organization serves, for the directory's "clienteles".
CLIENTELES = {
    "shelter": "Femmes victimes de violence conjugale et leurs enfants.",
    "second_stage_housing": "Femmes qui quittent une maison d'hébergement, avec ou sans enfants.",
    "sexual_assault_centre": "Femmes et adolescentes de 14 ans et plus ayant vécu une agression sexuelle.",
    "crime_victim_assistance": "Personnes victimes d'actes criminels, leurs proches et les témoins.",
    "womens_centre": "Toutes les femmes de Laval.",
    "health_clinic": "Population de Laval; services psychosociaux et de santé.",
    "legal_aid": "Personnes admissibles à l'aide juridique.",
    "employment_service": "Femmes de 18 ans et plus qui cherchent un emploi ou une formation.",
    "newcomer_settlement": "Personnes immigrantes arrivées depuis moins de cinq ans.",
    "food_bank": "Ménages à faible revenu de Laval.",
}

# Kinds of organization whose address is confidential.
CONFIDENTIAL_KINDS = ("shelter", "second_stage_housing")

ORGANIZATIONS: tuple[OrganizationSeed, ...] = (
    OrganizationSeed(
        key="phare",
        name="Maison Fictive du Phare",
        kind="shelter",
        mandate="Hébergement d'urgence et accompagnement des femmes victimes de violence conjugale "
        "et de leurs enfants.",
        territory="Laval (toute l'île)",
        languages=("fr", "en", "es"),
        accessibility="Rez-de-chaussée accessible; adresse confidentielle.",
        hours="24 heures sur 24, 7 jours sur 7",
        phone="450-555-0101",
        capacity="waitlist",
        services=(
            (
                "Hébergement d'urgence",
                "Chambres pour femmes et enfants, séjour de quelques semaines.",
                ("shelter_emergency", "intimate_violence"),
            ),
            (
                "Scénarios de protection",
                "Rencontres individuelles pour préparer un scénario de protection.",
                ("safety_plan",),
            ),
        ),
        roles=(Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT, Role.PRIVACY_OFFICER),
        retention_months=6,
    ),
    OrganizationSeed(
        key="envol",
        name="Habitation Fictive Deuxième Envol",
        kind="second_stage_housing",
        mandate="Logements de deuxième étape avec suivi, après un séjour en maison d'hébergement.",
        territory="Laval",
        languages=("fr", "en"),
        accessibility="Deux logements adaptés.",
        hours="Lundi au vendredi, 9 h à 17 h",
        phone="450-555-0102",
        capacity="full",
        services=(
            (
                "Logement de deuxième étape",
                "Logement de 6 à 24 mois avec suivi psychosocial.",
                ("shelter_second_stage", "housing"),
            ),
            (
                "Soutien au budget",
                "Ateliers de budget et accompagnement vers un logement permanent.",
                ("income",),
            ),
        ),
    ),
    OrganizationSeed(
        key="boussole",
        name="Centre Fictif La Boussole (aide contre les agressions sexuelles)",
        kind="sexual_assault_centre",
        mandate="Aide, accompagnement et prévention pour les femmes ayant vécu une agression sexuelle.",
        territory="Laval",
        languages=("fr", "en"),
        accessibility="Ascenseur; salle d'attente calme.",
        hours="Lundi au vendredi, 8 h 30 à 16 h 30",
        phone="450-555-0103",
        capacity="open",
        services=(
            (
                "Suivi individuel",
                "Rencontres individuelles avec une intervenante.",
                ("sexual_assault", "psychosocial"),
            ),
            (
                "Accompagnement médico-légal",
                "Accompagnement à l'hôpital et dans les démarches.",
                ("sexual_assault", "court_support"),
            ),
        ),
        roles=(Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT, Role.PRIVACY_OFFICER),
    ),
    OrganizationSeed(
        key="balance",
        name="Centre Fictif d'aide aux victimes La Balance",
        kind="crime_victim_assistance",
        mandate="Information, soutien et accompagnement des victimes d'actes criminels.",
        territory="Laval",
        languages=("fr", "en", "ar"),
        accessibility="Accessible en fauteuil roulant.",
        hours="Lundi au vendredi, 8 h 30 à 16 h 30",
        phone="450-555-0104",
        capacity="open",
        services=(
            (
                "Aide aux victimes",
                "Soutien post-traumatique et information sur les droits.",
                ("crime_victim", "psychosocial"),
            ),
            (
                "Accompagnement à la cour",
                "Préparation au témoignage et accompagnement au palais de justice.",
                ("court_support",),
            ),
        ),
    ),
    OrganizationSeed(
        key="ilot",
        name="Centre de femmes Fictif L'Îlot",
        kind="womens_centre",
        mandate="Lieu d'appartenance, d'entraide et d'éducation populaire pour les femmes.",
        territory="Laval-Ouest, Sainte-Dorothée",
        languages=("fr", "es", "ar"),
        accessibility="Local au rez-de-chaussée, toilette adaptée.",
        hours="Lundi au jeudi, 9 h à 16 h",
        phone="450-555-0105",
        capacity="open",
        services=(
            (
                "Accueil et écoute",
                "Écoute, référence et accompagnement individuel.",
                ("isolation", "intimate_violence", "psychosocial"),
            ),
            (
                "Cafés-rencontres",
                "Activités de groupe pour briser l'isolement, halte-garderie sur place.",
                ("isolation", "childcare", "seniors"),
            ),
        ),
    ),
    OrganizationSeed(
        key="clinique",
        name="Clinique Fictive de santé des Trois-Rives",
        kind="health_clinic",
        mandate="Services de santé et services sociaux de proximité (équivalent d'un CLSC).",
        territory="Laval-des-Rapides, Pont-Viau",
        languages=("fr", "en"),
        accessibility="Entièrement accessible.",
        hours="Lundi au vendredi, 8 h à 20 h",
        phone="450-555-0106",
        capacity=None,
        services=(
            ("Santé mentale adulte", "Évaluation et suivi en santé mentale.", ("mental_health", "addiction")),
            (
                "Périnatalité",
                "Suivi de grossesse et soutien aux jeunes mères.",
                ("perinatal", "sexual_health"),
            ),
            ("Services psychosociaux", "Accueil psychosocial sans rendez-vous.", ("psychosocial",)),
        ),
    ),
    OrganizationSeed(
        key="juridique",
        name="Bureau Fictif d'aide juridique de l'Île",
        kind="legal_aid",
        mandate="Information juridique et représentation pour les personnes admissibles.",
        territory="Laval",
        languages=("fr", "en"),
        accessibility="Ascenseur.",
        hours="Lundi au vendredi, 9 h à 16 h",
        phone="450-555-0107",
        capacity="waitlist",
        services=(
            ("Droit de la famille", "Garde d'enfants, pension alimentaire, séparation.", ("legal_aid",)),
            ("Immigration", "Information sur le statut et les recours.", ("immigration_status", "legal_aid")),
        ),
        roles=(Role.CASEWORKER, Role.COORDINATOR, Role.PARTNER_CONTACT),
    ),
    OrganizationSeed(
        key="tremplin",
        name="Tremplin Fictif Emploi-Femmes",
        kind="employment_service",
        mandate="Orientation, formation et recherche d'emploi pour les femmes.",
        territory="Laval",
        languages=("fr", "en", "es"),
        accessibility="Accessible en fauteuil roulant.",
        hours="Lundi au vendredi, 8 h 30 à 16 h 30",
        phone="450-555-0108",
        capacity="open",
        services=(
            ("Retour en emploi", "Bilan, orientation et recherche d'emploi accompagnée.", ("employment",)),
        ),
    ),
    OrganizationSeed(
        key="passerelle",
        name="Passerelle Fictive des nouvelles arrivantes",
        kind="newcomer_settlement",
        mandate="Accueil et installation des femmes immigrantes et de leur famille.",
        territory="Chomedey, Laval",
        languages=("fr", "en", "es", "ar", "fa"),
        accessibility="Rez-de-chaussée.",
        hours="Lundi au vendredi, 9 h à 17 h",
        phone="450-555-0109",
        capacity="open",
        services=(
            (
                "Installation",
                "Démarches d'installation, accompagnement aux services.",
                ("newcomers", "immigration_status"),
            ),
            ("Francisation", "Cours de français à temps partiel.", ("french_classes",)),
        ),
    ),
    OrganizationSeed(
        key="panier",
        name="Panier Fictif solidaire",
        kind="food_bank",
        mandate="Dépannage alimentaire et cuisines collectives.",
        territory="Laval-Est",
        languages=("fr",),
        accessibility="Quai de livraison et rampe.",
        hours="Mardi et jeudi, 10 h à 15 h",
        phone="450-555-0110",
        capacity="open",
        services=(("Dépannage alimentaire", "Paniers hebdomadaires sur rendez-vous.", ("food",)),),
    ),
)


@dataclass(frozen=True)
class PartnershipSeed:
    first: str
    second: str
    kinds: tuple[str, ...]
    formal: bool
    description: str
    review_every_months: int
    started_days_ago: int
    notes: tuple[tuple[str, str, int, str], ...] = ()  # (organization key, kind, days ago, text)


PARTNERSHIPS: tuple[PartnershipSeed, ...] = (
    PartnershipSeed(
        "ilot",
        "phare",
        ("referral_protocol", "yearly_presentation"),
        True,
        "Le centre de femmes réfère à la maison d'hébergement; présentation croisée des services "
        "chaque automne.",
        12,
        900,
        (
            (
                "phare",
                "presentation",
                240,
                "Présentation de la maison à l'équipe du centre : 9 participantes.",
            ),
            (
                "ilot",
                "review",
                60,
                "Bilan annuel : délais d'accusé de réception respectés, "
                "garder le protocole urgent pour les soirs.",
            ),
            ("phare", "note", 12, "Nouvelle coordonnatrice à la maison : les coordonnées sont à jour."),
        ),
    ),
    PartnershipSeed(
        "envol",
        "phare",
        ("referral_protocol", "team_sessions"),
        True,
        "Passage de relais accompagné entre la maison d'hébergement et le logement de deuxième étape.",
        6,
        1400,
        (("envol", "meeting", 45, "Rencontre d'équipes : revoir la liste d'attente ensemble chaque mois."),),
    ),
    PartnershipSeed(
        "clinique",
        "phare",
        ("referral_protocol", "intervention_keys"),
        True,
        "Références urgentes de la clinique vers la maison; clés d'intervention pour les femmes enceintes.",
        12,
        700,
        (("clinique", "note", 20, "Mettre à jour les clés d'intervention périnatalité."),),
    ),
    PartnershipSeed(
        "boussole",
        "balance",
        ("referral_protocol", "team_sessions", "joint_mobilization"),
        True,
        "Références croisées et mobilisation commune sur l'accès à la justice.",
        12,
        1100,
        (("balance", "meeting", 30, "Séance d'équipes sur l'accompagnement à la cour."),),
    ),
    PartnershipSeed(
        "balance",
        "juridique",
        ("referral_protocol", "yearly_presentation"),
        False,
        "Références vers l'aide juridique pour les démarches familiales.",
        12,
        500,
    ),
    PartnershipSeed(
        "ilot",
        "tremplin",
        ("referral_protocol", "co_organized_activities"),
        False,
        "Références vers l'emploi et ateliers coorganisés au centre de femmes.",
        12,
        400,
        (("tremplin", "note", 90, "Atelier « Retour au travail » coorganisé : 14 participantes."),),
    ),
    PartnershipSeed(
        "ilot",
        "passerelle",
        ("co_organized_activities", "joint_mobilization", "referral_protocol"),
        False,
        "Activités interculturelles et mobilisation pour l'accès au logement.",
        12,
        300,
    ),
    PartnershipSeed(
        "ilot",
        "panier",
        ("shared_premises",),
        False,
        "Le Panier prête sa cuisine pour les cuisines collectives du centre.",
        24,
        800,
        (("panier", "note", 150, "Clé de la cuisine remise à la coordonnatrice du centre."),),
    ),
    PartnershipSeed(
        "boussole",
        "clinique",
        ("referral_protocol", "intervention_keys"),
        True,
        "Références pour suivi psychosocial et accompagnement médico-légal.",
        12,
        600,
    ),
    PartnershipSeed(
        "juridique",
        "passerelle",
        ("referral_protocol", "yearly_presentation"),
        False,
        "Références pour les questions d'immigration.",
        12,
        200,
    ),
    PartnershipSeed(
        "boussole",
        "ilot",
        ("referral_protocol", "yearly_presentation"),
        False,
        "Le centre de femmes réfère à La Boussole; présentation annuelle des services.",
        12,
        650,
    ),
)


@dataclass(frozen=True)
class AgreementSeed:
    first: str
    second: str
    protocol_name: str
    parameters: dict[str, str]
    information_needed: str
    proposed_by: str
    confirmed: bool = True


AGREEMENTS: tuple[AgreementSeed, ...] = (
    AgreementSeed(
        "ilot",
        "phare",
        "standard",
        {"receipt_deadline": "1 business day", "first_contact_deadline": "5 business days"},
        "Âge des enfants qui l'accompagnent; besoins d'accessibilité.",
        "phare",
    ),
    AgreementSeed(
        "envol",
        "phare",
        "accompanied",
        {"meeting_deadline": "5 business days", "follow_up_delay": "14 days"},
        "Date de fin prévue du séjour en maison d'hébergement.",
        "envol",
    ),
    AgreementSeed(
        "boussole",
        "balance",
        "standard",
        {"receipt_deadline": "3 business days", "decision_deadline": "7 business days"},
        "Si une plainte a été déposée, et sa date.",
        "balance",
    ),
    AgreementSeed(
        "boussole",
        "ilot",
        "accompanied",
        {"decision_deadline": "3 business days"},
        "Disponibilités de la femme pour une rencontre conjointe.",
        "ilot",
        confirmed=False,
    ),
)

# Who refers to whom under each protocol, in turn: (sender key, receiver key).
ROUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "standard": (
        ("ilot", "phare"),
        ("boussole", "balance"),
        ("ilot", "tremplin"),
        ("balance", "juridique"),
        ("clinique", "boussole"),
        ("passerelle", "juridique"),
        ("ilot", "passerelle"),
    ),
    "urgent": (("clinique", "phare"), ("ilot", "phare"), ("balance", "phare")),
    "accompanied": (("phare", "envol"), ("ilot", "boussole"), ("clinique", "boussole")),
}

CONTACT_PREFERENCES = (
    "Texto d'abord, appel ensuite.",
    "Joindre par l'entremise de l'intervenante qui réfère.",
    "Appeler seulement en semaine, entre 9 h et 11 h.",
    "Courriel seulement.",
)
SAFETY_CONSTRAINTS = (
    "Ne pas laisser de message vocal.",
    "Ne jamais écrire à l'adresse du domicile.",
    "Ne pas nommer l'organisme au téléphone.",
    "Raccrocher si un homme répond.",
    "",
)
LANGUAGES = ("français", "anglais", "espagnol", "arabe", "farsi")
COMMENTS = {
    "plan_meeting": "Rencontre conjointe prévue jeudi à 10 h, au local de l'organisme receveur.",
    "reschedule_meeting": "Rencontre déplacée au lundi suivant, à sa demande.",
    "decline": "Suggestion : la Passerelle Fictive pourrait l'aider pour l'installation.",
    "redirect": "Mieux servie par un organisme spécialisé.",
    "close": "Service reçu; la boucle est fermée.",
    "cancel": "Elle a retiré son consentement lors d'un appel.",
    "acknowledge": "Bien reçu, nous la contactons sous peu.",
}


def _demo_second_factor(role: str, now: datetime) -> dict[str, object]:
    """The demo's TOTP key, already confirmed, for the roles that must have a second factor."""
    return {"totp_secret": DEMO_TOTP_SECRET, "mfa_enabled_at": now} if mfa_required(role) else {}


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    role: str
    organization: str


@dataclass
class DemoResult:
    """What `load_demo` did, and the logins to print."""

    already_loaded: bool
    logins: list[Login]
    referrals: int = 0
    organizations: int = 0
    states: dict[str, set[str]] = field(default_factory=dict)


class DemoClock:
    """The walking clock the demo's operations read; it never passes the real `now`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def demo_loaded(session: Session) -> bool:
    """Whether this database already holds the demo network."""
    return session.scalar(select(User.id).where(User.email == REGIONAL_ADMIN_EMAIL)) is not None


def demo_emails() -> list[str]:
    """The demo's accounts, in the order they are printed."""
    emails = [user_email(seed.key, role) for seed in ORGANIZATIONS for role in seed.roles]
    return [*emails, REGIONAL_ADMIN_EMAIL]


def user_email(key: str, role: Role) -> str:
    return f"{ROLE_WORDS[role]}.{key}@{DEMO_DOMAIN}"


def demo_logins(session: Session) -> list[Login]:
    """Every demo account there is, as `maillage demo` prints them."""
    query = select(User, Organization.name).outerjoin(Organization, User.organization_id == Organization.id)
    found = {
        user.email: (user, name) for user, name in session.execute(query.where(User.email.in_(demo_emails())))
    }
    return [
        Login(email, DEMO_PASSWORD, found[email][0].role, found[email][1] or "")
        for email in demo_emails()
        if email in found
    ]


def load_demo(
    session: Session, protocols: ProtocolLibrary, *, now: datetime | None = None, seed: int = 2026
) -> DemoResult:
    """Load the demo network once; a second call only returns the logins."""
    if demo_loaded(session):
        return DemoResult(already_loaded=True, logins=demo_logins(session))
    now = now or utcnow()
    rng = random.Random(seed)  # noqa: S311 - made-up timelines, not secrets
    network = _Network.build(session, protocols, now)
    states: dict[str, set[str]] = {}
    count = 0
    number = 0
    for protocol in protocols.latest():
        routes = ROUTES.get(protocol.name) or ROUTES["standard"]
        for index, target in enumerate(protocol.states):
            number += 1
            sender, receiver = routes[index % len(routes)]
            story = _Story(network, protocol, sender, receiver, target, number, rng, now)
            story.tell(session, protocols)
            states.setdefault(protocol.name, set()).add(target)
            count += 1
    return DemoResult(
        already_loaded=False,
        logins=demo_logins(session),
        referrals=count,
        organizations=len(ORGANIZATIONS),
        states=states,
    )


# The directory and the accounts ------------------------------------------------------


@dataclass
class _Network:
    organizations: dict[str, Organization]
    actors: dict[tuple[str, str], Actor]

    @classmethod
    def build(cls, session: Session, protocols: ProtocolLibrary, now: datetime) -> _Network:
        needs = {need.code: need for need in session.scalars(select(Need))}
        organizations: dict[str, Organization] = {}
        for seed in ORGANIZATIONS:
            organization = Organization(
                name=seed.name,
                kind=seed.kind,
                mandate=seed.mandate,
                territory=seed.territory,
                clienteles=CLIENTELES.get(seed.kind, ""),
                languages=list(seed.languages),
                accessibility=seed.accessibility,
                hours=seed.hours,
                phone=seed.phone,
                referral_email=seed.email,
                capacity_status=seed.capacity,
                retention_months=seed.retention_months,
                # Women's shelters keep their address secret: her sheet says « Adresse confidentielle ».
                address_confidential=seed.kind in CONFIDENTIAL_KINDS,
                created_at=now - timedelta(days=1500),
            )
            organization.services = [
                Service(name=name, description=text, needs=[needs[c] for c in codes if c in needs])
                for name, text, codes in seed.services
            ]
            session.add(organization)
            organizations[seed.key] = organization
        session.flush()

        # One argon2 hash for every demo account: they share the printed password.
        password_hash = hash_password(DEMO_PASSWORD)
        actors: dict[tuple[str, str], Actor] = {}
        users: dict[tuple[str, str], User] = {}
        for seed in ORGANIZATIONS:
            for role in seed.roles:
                user = User(
                    email=user_email(seed.key, role),
                    # Pages show a person with her organization in parentheses: none in her name.
                    name=f"{ROLE_NAMES[role]} fictive {seed.key.capitalize()}",
                    organization_id=organizations[seed.key].id,
                    role=role,
                    password_hash=password_hash,
                    created_at=now - timedelta(days=400),
                    **_demo_second_factor(role, now),
                )
                session.add(user)
                users[seed.key, role] = user
        session.add(
            User(
                email=REGIONAL_ADMIN_EMAIL,
                name="Table régionale fictive",
                organization_id=None,
                role=Role.REGIONAL_ADMIN,
                password_hash=password_hash,
                created_at=now - timedelta(days=400),
                **_demo_second_factor(Role.REGIONAL_ADMIN, now),
            )
        )
        session.flush()
        for (key, role), user in users.items():
            actors[key, role] = Actor(user_id=user.id, organization_id=user.organization_id, role=role)

        partnerships: dict[frozenset[str], Partnership] = {}
        for seed in PARTNERSHIPS:
            first, second = sorted(
                (organizations[seed.first], organizations[seed.second]), key=lambda o: o.id
            )
            partnership = Partnership(
                first_organization_id=first.id,
                second_organization_id=second.id,
                kinds=list(seed.kinds),
                formal=seed.formal,
                description=seed.description,
                first_contact=f"Coordination, {first.phone}",
                second_contact=f"Coordination, {second.phone}",
                review_every_months=seed.review_every_months,
                started_on=(now - timedelta(days=seed.started_days_ago)).date(),
                created_at=now - timedelta(days=seed.started_days_ago),
            )
            session.add(partnership)
            session.flush()
            for key, kind, days_ago, text in seed.notes:
                session.add(
                    PartnershipNote(
                        partnership_id=partnership.id,
                        author_id=users[key, Role.COORDINATOR].id,
                        organization_id=organizations[key].id,
                        kind=kind,
                        at=now - timedelta(days=days_ago),
                        text=text,
                    )
                )
            partnerships[frozenset((seed.first, seed.second))] = partnership

        for seed in AGREEMENTS:
            partnership = partnerships[frozenset((seed.first, seed.second))]
            other = seed.second if seed.proposed_by == seed.first else seed.first
            proposed_at = now - timedelta(days=75)
            session.add(
                ReferralAgreement(
                    partnership_id=partnership.id,
                    version=1,
                    protocol_name=seed.protocol_name,
                    urgent_protocol_name="urgent",
                    parameters=protocols.get(seed.protocol_name).resolve_parameters(seed.parameters),
                    first_contact=partnership.first_contact,
                    second_contact=partnership.second_contact,
                    information_needed=seed.information_needed,
                    effective_on=(now - timedelta(days=60)).date(),
                    proposed_by_id=users[seed.proposed_by, Role.COORDINATOR].id,
                    proposed_by_organization_id=organizations[seed.proposed_by].id,
                    proposed_at=proposed_at,
                    confirmed_by_id=users[other, Role.COORDINATOR].id if seed.confirmed else None,
                    confirmed_at=proposed_at + timedelta(days=3) if seed.confirmed else None,
                )
            )
        session.commit()
        return cls(organizations, actors)

    def actor(self, key: str, role: str) -> Actor:
        return self.actors.get((key, role)) or self.actors[key, Role.CASEWORKER]


# The referrals: one story per state of every protocol ---------------------------------


def path_to(protocol: Protocol, target: str) -> list[Transition]:
    """The shortest run of transitions from the initial state to `target` (drafts are not discarded)."""
    for avoid in ({"discard"}, set()):
        found = _search(protocol, target, avoid)
        if found is not None:
            return found
    raise ValueError(f"state {target!r} of {protocol!r} cannot be reached")


def _search(protocol: Protocol, target: str, avoid: set[str]) -> list[Transition] | None:
    paths: dict[str, list[Transition]] = {protocol.initial: []}
    queue = deque([protocol.initial])
    while queue:
        state = queue.popleft()
        if state == target:
            return paths[state]
        for transition in protocol.transitions:
            if transition.trigger in avoid or state not in transition.sources:
                continue
            if transition.dest not in paths:
                paths[transition.dest] = [*paths[state], transition]
                queue.append(transition.dest)
    return None


# (protocol, state) of the referrals left waiting past their deadline.
OVERDUE = {
    ("standard", "sent"),
    ("urgent", "sent"),
    ("urgent", "received"),
    ("accompanied", "meeting_planned"),
}
# (protocol, state) of the referrals whose receipt came only after an escalation.
ESCALATED = {("standard", "accepted"), ("urgent", "in_progress"), ("accompanied", "declined")}
PARTY_ORDER = ("receiver", "sender", "sender_coordinator", "receiver_coordinator")


class _Story:
    """One fictional woman's referral, walked to `target` on a clock that ends before `now`."""

    def __init__(
        self,
        network: _Network,
        protocol: Protocol,
        sender: str,
        receiver: str,
        target: str,
        number: int,
        rng: random.Random,
        now: datetime,
    ) -> None:
        self.network = network
        self.protocol = protocol
        self.sender = sender
        self.receiver = receiver
        self.target = target
        self.number = number
        self.rng = rng
        self.now = now
        self.path = path_to(protocol, target)
        # Most steps come well within their deadline; one in five is late, so reminders show.
        self.factors = [rng.choice((0.2, 0.35, 0.5, 0.7, 0.9, 1.4)) for _ in self.path]
        if (protocol.name, target) in ESCALATED:
            # Acknowledged only after the escalation: the coordinators were told.
            late = [t.trigger == "acknowledge" for t in self.path]
            self.factors = [2.5 if is_late else f for is_late, f in zip(late, self.factors, strict=True)]
        terminal = protocol.is_terminal(target)
        # Some referrals wait in their state past the deadline, not yet swept: overdue items.
        self.overdue = (protocol.name, target) in OVERDUE
        if self.overdue:
            self.rest = 1.3
        elif target == protocol.initial:
            self.rest = 0.3
        else:
            self.rest = rng.choice((0.3, 0.6, 0.8)) if not terminal else 0.0
        self.extra_days = rng.randint(1, 20) if terminal else 0

    # The plan: when each step happens -------------------------------------------------

    def _plan(self, start: datetime, parameters: dict[str, str]) -> tuple[list[datetime], datetime]:
        moments = []
        at = start
        state = self.protocol.initial
        for transition, factor in zip(self.path, self.factors, strict=True):
            at = self._working_time(at + self._gap(state, at, factor, parameters))
            moments.append(at)
            state = transition.dest
        end = at + self._gap(state, at, self.rest, parameters) + timedelta(days=self.extra_days)
        return moments, end

    def _working_time(self, at: datetime) -> datetime:
        """People act in office hours, Montréal time; an urgent referral is answered at any hour."""
        if self.protocol.name == "urgent":
            return at
        local = at.astimezone(TIME_ZONE)
        if local.hour >= 17 or local.weekday() >= 5:
            local += timedelta(days=1)
            while local.weekday() >= 5:
                local += timedelta(days=1)
            local = local.replace(hour=9)
        elif local.hour < 9:
            local = local.replace(hour=9)
        return local.astimezone(UTC)

    def _gap(self, state: str, since: datetime, factor: float, parameters: dict[str, str]) -> timedelta:
        due = self.protocol.due_at(state, since, 0, parameters)
        if due is None:
            return timedelta(hours=1 + 40 * factor)
        return max((due - since) * factor, timedelta(minutes=20))

    def _start(self, parameters: dict[str, str]) -> datetime:
        """When the story starts so that it ends a few hours before now (business days make it iterative)."""
        start = self.now - timedelta(days=60)
        for _ in range(10):
            _, end = self._plan(start, parameters)
            slack = self.now - end
            if timedelta(0) <= slack <= timedelta(hours=12):
                return start
            start += slack - timedelta(hours=self.rng.randint(1, 6))
        while self._plan(start, parameters)[1] > self.now:
            start -= timedelta(days=1)
        return start

    # The telling: through the domain operations only -----------------------------------------

    def tell(self, session: Session, protocols: ProtocolLibrary) -> Referral:
        organizations = self.network.organizations
        sender_org, receiver_org = organizations[self.sender], organizations[self.receiver]
        agreement = current_agreement(session, sender_org.id, receiver_org.id, self.now.date())
        uses_agreement = agreement is not None and agreement.protocol_name == self.protocol.name
        parameters = dict(agreement.parameters) if uses_agreement else {}
        resolved = self.protocol.resolve_parameters(parameters)
        start = self._start(resolved)
        moments, _ = self._plan(start, resolved)
        clock = DemoClock(start)
        caseworker = self.network.actor(self.sender, Role.CASEWORKER)
        referral = open_referral(
            session,
            protocols,
            caseworker,
            receiver_organization_id=receiver_org.id,
            protocol_name=self.protocol.name,
            parameters=parameters,
            need_codes=self._needs(receiver_org),
            urgent=self.protocol.name == "urgent",
            person=self._person(),
            agreement_id=agreement.id if uses_agreement and agreement is not None else None,
            clock=clock,
        )
        consented = False
        for transition, moment in zip(self.path, moments, strict=True):
            self._catch_up(session, protocols, referral.id, moment, clock)
            clock.now = moment
            if "consent_recorded" in transition.guards and not consented:
                record_consent(
                    session,
                    referral.id,
                    caseworker,
                    method=self.rng.choice(("verbal", "written")),
                    shared_with=f"{receiver_org.name} : coordonnées, besoins et consignes de sécurité",
                    purpose="Lui offrir les services de l'organisme receveur",
                    expires_at=moment + timedelta(days=180),
                    clock=clock,
                )
                consented = True
            referral = self._fire(session, protocols, referral.id, transition, clock)
        if not self.overdue:
            self._catch_up(session, protocols, referral.id, self.now, clock)
        # A redirect opened a draft to the other organization: its reminders ran too.
        linked = select(Referral.id).where(Referral.redirected_from_id == referral.id)
        for linked_id in list(session.scalars(linked)):
            self._catch_up(session, protocols, linked_id, self.now, clock)
        return referral

    def _fire(
        self,
        session: Session,
        protocols: ProtocolLibrary,
        referral_id: int,
        transition: Transition,
        clock: DemoClock,
    ) -> Referral:
        party = next(p for p in PARTY_ORDER if p in transition.parties)
        side = self.receiver if party.startswith("receiver") else self.sender
        if party.endswith("coordinator"):
            actor = self.network.actor(side, Role.COORDINATOR)
        elif side == self.receiver and self.number % 3 == 0:
            actor = self.network.actor(side, Role.PARTNER_CONTACT)
        else:
            actor = self.network.actor(side, Role.CASEWORKER)
        reason = None
        if transition.reason:
            codes = [c for c in self.protocol.reasons[transition.reason] if c != "other"]
            reason = codes[self.number % len(codes)]
        comment = COMMENTS.get(transition.trigger) if transition.comment != "none" else None
        if transition.trigger == "acknowledge" and self.number % 2:
            comment = None
        target = None
        if "target_organization_given" in transition.guards:
            target = self._elsewhere()
        return fire(
            session,
            protocols,
            referral_id,
            transition.trigger,
            actor,
            reason=reason,
            comment=comment,
            target_organization_id=target,
            clock=clock,
        )

    def _catch_up(
        self,
        session: Session,
        protocols: ProtocolLibrary,
        referral_id: int,
        until: datetime,
        clock: DemoClock,
    ) -> None:
        """Run the reminders and escalations that fall due before `until`, each at its own time."""
        for _ in range(20):
            referral = session.get_one(Referral, referral_id)
            if referral.due_at is None or referral.due_at > until:
                return
            clock.now = referral.due_at
            run_due_deadline(session, protocols, referral_id, clock=clock)

    def _needs(self, receiver: Organization) -> list[str]:
        codes = [need.code for service in receiver.services for need in service.needs]
        return sorted(set(codes[: 1 + self.number % 2]))

    def _person(self) -> PersonDetails:
        n = self.number
        return PersonDetails(
            name=f"Personne Fictive {n}",
            phone=f"450-555-{120 + n % 80:04d}",
            email=f"personne.fictive{n}@{DEMO_DOMAIN}" if n % 3 == 0 else "",
            language=LANGUAGES[n % len(LANGUAGES)],
            contact_preferences=CONTACT_PREFERENCES[n % len(CONTACT_PREFERENCES)],
            safety_constraints=SAFETY_CONSTRAINTS[n % len(SAFETY_CONSTRAINTS)],
            notes="Données fictives de démonstration." if n % 4 == 0 else "",
        )

    def _elsewhere(self) -> int:
        keys = [s.key for s in ORGANIZATIONS if s.key not in (self.sender, self.receiver)]
        return self.network.organizations[keys[self.number % len(keys)]].id
