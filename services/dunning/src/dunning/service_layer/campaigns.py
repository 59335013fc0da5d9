"""Campaign configuration (collections staff): create, change, delete."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bss_runtime.errors import Conflict, NotFound, RuleViolation
from dunning.adapters import repository as repo
from dunning.domain.campaigns import CampaignSettings
from dunning.domain.notices import TemplateProblem, check_template


def _check_templates(settings: CampaignSettings) -> None:
    for index, action in enumerate(settings.actions):
        if action.template is None:
            continue
        try:
            check_template(action.template)
        except TemplateProblem as exc:
            raise RuleViolation(
                f"template does not render: {exc}", field=f"actions.{index}.template.{exc.part}"
            ) from exc


def _columns(settings: CampaignSettings) -> dict[str, Any]:
    return settings.model_dump(mode="json")  # actions and exclusion rules as JSON documents


def settings_of(campaign: repo.CampaignRecord) -> CampaignSettings:
    return CampaignSettings(
        name=campaign.name, description=campaign.description, trigger_after_days=campaign.trigger_after_days,
        max_retries=campaign.max_retries, retry_interval_days=campaign.retry_interval_days,
        actions=campaign.actions, exclusion_rules=campaign.exclusion_rules, priority=campaign.priority,
        is_active=campaign.is_active, webhook_secret=campaign.webhook_secret,
    )  # fmt: skip


async def create_campaign(session: AsyncSession, tenant_id: str, settings: CampaignSettings) -> repo.CampaignRecord:
    _check_templates(settings)
    if await repo.campaign_name_taken(session, tenant_id, settings.name):
        raise Conflict(f"a campaign named {settings.name!r} exists", field="name")
    campaign_id = str(uuid.uuid4())
    await repo.insert_campaign(session, {"id": campaign_id, "tenant_id": tenant_id} | _columns(settings))
    created = await repo.get_campaign(session, tenant_id, campaign_id)
    assert created is not None
    return created


async def update_campaign(
    session: AsyncSession, tenant_id: str, campaign_id: str, changes: dict[str, Any]
) -> repo.CampaignRecord:
    """Apply a partial change. Running executions keep the plan they started with."""
    campaign = await repo.get_campaign(session, tenant_id, campaign_id, for_update=True)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    merged = settings_of(campaign).model_dump() | changes
    try:
        settings = CampaignSettings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RuleViolation(first["msg"], field=".".join(map(str, first["loc"])) or None) from exc
    _check_templates(settings)
    if settings.name != campaign.name and await repo.campaign_name_taken(
        session, tenant_id, settings.name, other_than=campaign_id
    ):
        raise Conflict(f"a campaign named {settings.name!r} exists", field="name")
    await repo.update_campaign(session, tenant_id, campaign_id, _columns(settings))
    updated = await repo.get_campaign(session, tenant_id, campaign_id)
    assert updated is not None
    return updated


async def delete_campaign(session: AsyncSession, tenant_id: str, campaign_id: str) -> None:
    campaign = await repo.get_campaign(session, tenant_id, campaign_id, for_update=True)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    if await repo.campaign_has_executions(session, tenant_id, campaign_id):
        raise Conflict("the campaign has executions (their history refers to it): deactivate it instead")
    await repo.delete_campaign(session, tenant_id, campaign_id)
