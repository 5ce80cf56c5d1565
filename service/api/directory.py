"""`/api/v1/organizations`, `/services` and `/needs`: the regional directory, to find whom to refer to.

The directory is public to every organization of the network; it holds no
one's personal data.
"""

from __future__ import annotations

from flask import Response

from service.api import problems
from service.api.blueprint import answer
from service.api.blueprint import blueprint
from service.api.blueprint import query
from service.api.openapi import documented
from service.api.schemas import DirectoryFilters
from service.api.schemas import NeedList
from service.api.schemas import NeedOut
from service.api.schemas import OrganizationList
from service.api.schemas import OrganizationOut
from service.api.schemas import ServiceList
from service.api.schemas import ServiceOut
from service.directory.models import Organization
from service.directory.models import Service
from service.directory.queries import active_needs
from service.directory.queries import get_organization
from service.directory.queries import get_service
from service.directory.queries import search_organizations
from service.directory.queries import search_services
from service.web.database import db

TAG = "directory"


def _service(service: Service) -> ServiceOut:
    return ServiceOut(
        id=service.id,
        organization_id=service.organization_id,
        name=service.name,
        description=service.description,
        needs=sorted(need.code for need in service.needs),
    )


def _organization(organization: Organization) -> OrganizationOut:
    return OrganizationOut(
        id=organization.id,
        name=organization.name,
        kind=organization.kind,
        mandate=organization.mandate,
        territory=organization.territory,
        clienteles=organization.clienteles,
        languages=list(organization.languages or []),
        accessibility=organization.accessibility,
        hours=organization.hours,
        phone=organization.phone,
        referral_email=organization.referral_email,
        capacity_status=organization.capacity_status,
        # Never an address flagged confidential (none is kept then; this says so twice).
        public_address="" if organization.address_confidential else organization.public_address,
        address_confidential=organization.address_confidential,
        what_to_bring=organization.things_to_bring,
        services=[_service(s) for s in sorted(organization.services, key=lambda s: s.id)],
    )


@blueprint.get("/organizations")
@documented(
    "Organizations, by name; those with a service for a need, or whose text holds every word",
    tag=TAG,
    query=DirectoryFilters,
    response=OrganizationList,
)
def list_organizations() -> Response:
    filters = query(DirectoryFilters)
    found = search_organizations(db(), text=filters.q or "", need_code=filters.need)
    return answer(OrganizationList(items=[_organization(o) for o in found]))


@blueprint.get("/organizations/<int:organization_id>")
@documented("One organization and its services", tag=TAG, response=OrganizationOut)
def get_organization_view(organization_id: int) -> Response:
    return answer(_organization(get_organization(db(), organization_id)))


@blueprint.get("/services")
@documented(
    "Services (offres de service), by name; those covering a need",
    tag=TAG,
    query=DirectoryFilters,
    response=ServiceList,
)
def list_services() -> Response:
    filters = query(DirectoryFilters)
    found = search_services(db(), text=filters.q or "", need_code=filters.need)
    return answer(ServiceList(items=[_service(s) for s in found]))


@blueprint.get("/services/<int:service_id>")
@documented("One service", tag=TAG, response=ServiceOut)
def get_service_view(service_id: int) -> Response:
    return answer(_service(get_service(db(), service_id)))


@blueprint.get("/needs")
@documented("The needs of the regional taxonomy, with their codes", tag=TAG, response=NeedList)
def list_needs() -> Response:
    language = problems.language()
    items = [
        NeedOut(code=n.code, group=n.group, label=n.label_en if language == "en" else n.label_fr)
        for n in active_needs(db())
    ]
    return answer(NeedList(items=items))
