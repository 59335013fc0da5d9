"""The pure rules: campaign choice, exclusions, excluded days, the execution state machine, notices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from dunning.domain import execution as machine
from dunning.domain.calendar import next_allowed
from dunning.domain.campaigns import Action, CampaignSettings, ExclusionRules, Plan, RetryPolicy, Template
from dunning.domain.execution import Balance, ExecutionStatus, Progress
from dunning.domain.notices import TemplateProblem, check_template, format_amount, render
from dunning.domain.selection import CampaignCandidate, CustomerFacts, Debt, choose_campaign, exclusion_reason

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
DEBT = Debt("inv-1", "cust-1", "sub-1", None, "EUR", 5000, date(2025, 3, 1))


def candidate(name: str, *, priority: int = 0, trigger: int = 0, rules: ExclusionRules | None = None,
              active: bool = True) -> CampaignCandidate:  # fmt: skip
    return CampaignCandidate(name, name, priority, trigger, rules or ExclusionRules(),
                             datetime(2025, 1, 1, tzinfo=UTC), active)  # fmt: skip


def plan(*actions: Action, max_retries: int = 1, interval: int = 1, rules: ExclusionRules | None = None) -> Plan:
    return Plan(
        actions=actions, retry=RetryPolicy(max_retries=max_retries, retry_interval_days=interval),
        exclusions=rules or ExclusionRules(),
    )  # fmt: skip


# --- choosing a campaign ----------------------------------------------------------------------------------


def test_highest_priority_matching_campaign_wins_and_starts_on_its_trigger_day():
    choice = choose_campaign(
        [candidate("low", priority=1, trigger=0), candidate("high", priority=5, trigger=10),
         candidate("off", priority=9, active=False)],
        DEBT, None, "active", UTC_ZONE,
    )  # fmt: skip
    assert choice is not None
    assert choice.campaign_id == "high"
    assert choice.starts_at == datetime(2025, 3, 11, tzinfo=UTC)


def test_trigger_day_is_counted_in_the_customers_time_zone():
    choice = choose_campaign([candidate("c", trigger=3)], DEBT, None, None, BERLIN)
    assert choice is not None
    assert choice.starts_at == datetime(2025, 3, 3, 23, 0, tzinfo=UTC)  # 4 March 00:00 in Berlin (CET)


def test_excluded_campaign_does_not_match_and_a_lower_one_wins():
    vip = ExclusionRules(customer_tags=("vip",))
    customer = CustomerFacts("cust-1", "Ada", tags=("vip", "fiber"))
    choice = choose_campaign(
        [candidate("strict", priority=9, rules=vip), candidate("mild", priority=1)], DEBT, customer, None, UTC_ZONE
    )
    assert choice is not None and choice.campaign_id == "mild"
    assert choose_campaign([candidate("strict", rules=vip)], DEBT, customer, None, UTC_ZONE) is None


@pytest.mark.parametrize(
    ("rules", "customer", "status", "reason"),
    [
        (ExclusionRules(min_outstanding_minor={"EUR": 5001}), None, None, "below the minimum 5001"),
        (ExclusionRules(min_outstanding_minor={"EUR": 5000}), None, None, None),
        (ExclusionRules(min_outstanding_minor={"USD": 99999}), None, None, None),  # other currency: no limit
        (ExclusionRules(partner_ids=("p-9",)), CustomerFacts("c", "n", partner_id="p-9"), None, "partner p-9"),
        (ExclusionRules(customer_tags=("vip",)), CustomerFacts("c", "n", tags=("vip",)), None, "tag vip"),
        (ExclusionRules(subscriber_statuses=("suspended",)), None, "suspended", "status suspended"),
        (ExclusionRules(subscriber_statuses=("suspended",)), None, "active", None),
    ],
)
def test_exclusion_rules(rules, customer, status, reason):
    found = exclusion_reason(rules, DEBT, customer, status)
    if reason is None:
        assert found is None
    else:
        assert found is not None and reason in found


# --- excluded days ------------------------------------------------------------------------------------------

WEEKEND = ExclusionRules(no_suspension_weekdays=("saturday", "sunday"), holidays=(date(2025, 3, 10),))


def test_an_excluded_day_moves_to_the_start_of_the_next_allowed_local_day():
    saturday_noon = datetime(2025, 3, 8, 12, 0, tzinfo=UTC)
    # Sunday is excluded too and Monday 10 March is a holiday: Tuesday 00:00 Berlin time.
    assert next_allowed(WEEKEND, saturday_noon, BERLIN) == datetime(2025, 3, 11, 0, 0, tzinfo=BERLIN)
    friday = datetime(2025, 3, 7, 12, 0, tzinfo=UTC)
    assert next_allowed(WEEKEND, friday, BERLIN) == friday


def test_the_local_day_decides_not_the_utc_day():
    friday_late_utc = datetime(2025, 3, 7, 23, 30, tzinfo=UTC)  # already Saturday in Berlin
    assert next_allowed(WEEKEND, friday_late_utc, UTC_ZONE) == friday_late_utc
    assert next_allowed(WEEKEND, friday_late_utc, BERLIN) == datetime(2025, 3, 11, tzinfo=BERLIN)


def test_every_weekday_excluded_is_refused():
    with pytest.raises(ValidationError, match="at least one weekday"):
        ExclusionRules(no_suspension_weekdays=("monday", "tuesday", "wednesday", "thursday", "friday",
                                               "saturday", "sunday"))  # fmt: skip


# --- the state machine --------------------------------------------------------------------------------------

EMAIL = Action(type="email", delay_days=0)
EMAIL_3 = Action(type="email", delay_days=3)
SUSPEND_7 = Action(type="suspend_service", delay_days=7)
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday


def test_steps_are_scheduled_from_when_the_previous_one_actually_ran():
    p = plan(EMAIL, EMAIL_3, SUSPEND_7)
    progress = machine.start(p, T0, UTC_ZONE)
    assert progress == Progress(ExecutionStatus.PENDING, 0, 0, T0)
    late = T0 + timedelta(days=10)  # the service was down for ten days
    verdict = machine.after_attempt(p, progress, "succeeded", late, UTC_ZONE)
    assert verdict.log_status == "succeeded"
    assert verdict.progress == Progress(ExecutionStatus.IN_PROGRESS, 1, 0, late + timedelta(days=3))


def test_a_suspension_falling_on_a_weekend_is_scheduled_for_monday():
    p = plan(EMAIL, SUSPEND_7, rules=WEEKEND)
    saturday = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    verdict = machine.after_attempt(p, machine.start(p, saturday, UTC_ZONE), "succeeded", saturday, UTC_ZONE)
    # 7 days after Saturday is Saturday 8 March; Sunday is excluded and Monday 10 March is a holiday.
    assert verdict.progress.next_action_at == datetime(2025, 3, 11, tzinfo=UTC)


def test_postponement_only_for_service_actions_on_excluded_days():
    p = plan(EMAIL, SUSPEND_7, rules=WEEKEND)
    sunday = datetime(2025, 3, 9, 15, 0, tzinfo=UTC)
    at_step_two = Progress(ExecutionStatus.IN_PROGRESS, 1, 0, sunday)
    assert machine.postponement(p, at_step_two, sunday, UTC_ZONE) == datetime(2025, 3, 11, tzinfo=UTC)
    at_step_one = Progress(ExecutionStatus.PENDING, 0, 0, sunday)
    assert machine.postponement(p, at_step_one, sunday, UTC_ZONE) is None


def test_a_failed_step_is_retried_then_fails_the_execution():
    p = plan(EMAIL, EMAIL_3, max_retries=2, interval=1)
    progress = machine.start(p, T0, UTC_ZONE)
    first = machine.after_attempt(p, progress, "failed", T0, UTC_ZONE)
    assert (first.log_status, first.progress.retry_count, first.progress.next_action_at) == (
        "retrying", 1, T0 + timedelta(days=1))  # fmt: skip
    assert first.progress.attempt == 2
    second = machine.after_attempt(p, first.progress, "failed", T0 + timedelta(days=1), UTC_ZONE)
    assert second.log_status == "retrying" and second.progress.retry_count == 2
    third = machine.after_attempt(p, second.progress, "failed", T0 + timedelta(days=2), UTC_ZONE)
    assert third.log_status == "failed"
    assert third.progress == Progress(ExecutionStatus.FAILED, 0, 2, None)
    assert third.failed_execution


def test_a_success_after_a_retry_resets_the_retry_count():
    p = plan(EMAIL, EMAIL_3)
    retrying = machine.after_attempt(p, machine.start(p, T0, UTC_ZONE), "failed", T0, UTC_ZONE).progress
    ok = machine.after_attempt(p, retrying, "succeeded", T0 + timedelta(days=1), UTC_ZONE)
    assert ok.progress == Progress(ExecutionStatus.IN_PROGRESS, 1, 0, T0 + timedelta(days=4))


def test_after_the_last_step_the_execution_waits_for_payment():
    p = plan(EMAIL)
    done = machine.after_attempt(p, machine.start(p, T0, UTC_ZONE), "skipped", T0, UTC_ZONE)
    assert done.log_status == "skipped"
    assert done.progress == Progress(ExecutionStatus.IN_PROGRESS, 1, 0, None)
    assert machine.settle(done.progress).status is ExecutionStatus.COMPLETED


def test_ended_executions_neither_advance_nor_cancel():
    failed = Progress(ExecutionStatus.FAILED, 0, 1, None)
    with pytest.raises(machine.NotActive):
        machine.after_attempt(plan(EMAIL), failed, "succeeded", T0, UTC_ZONE)
    with pytest.raises(machine.NotActive):
        machine.cancel(failed)
    assert machine.settle(failed) == failed


def test_balances():
    start = Balance(10_000, 0)
    assert machine.apply_payment(start, 4_000, None) == Balance(6_000, 4_000)
    assert machine.apply_payment(start, 4_000, 5_500) == Balance(5_500, 4_000)  # billing's balance wins
    assert machine.apply_credit(Balance(6_000, 4_000), 1_000, None) == Balance(5_000, 4_000)
    assert machine.apply_paid_in_full(Balance(5_000, 4_000)) == Balance(0, 9_000)


# --- campaigns and notices ----------------------------------------------------------------------------------


def test_campaign_settings_validation():
    with pytest.raises(ValidationError, match="webhook_secret"):
        CampaignSettings(name="x", trigger_after_days=1,
                         actions=(Action(type="webhook", config={"url": "https://hooks.example/x"}),))  # fmt: skip
    with pytest.raises(ValidationError, match=r"config\.url"):
        Action(type="webhook", config={"url": "ftp://nope"})
    with pytest.raises(ValidationError, match="needs a subject"):
        Action(type="email", template=Template(body="hi"))
    with pytest.raises(ValidationError, match="takes no template"):
        Action(type="suspend_service", template=Template(body="hi"))
    with pytest.raises(ValidationError):
        CampaignSettings(name="x", trigger_after_days=1, actions=())


def test_templates_render_in_a_sandbox_with_html_escaped():
    template = Template(
        subject="Invoice {{ invoice.number }}\n overdue", body="Dear {{ customer.name }}: {{ invoice.balance }}",
        html="<p>{{ customer.name }}</p>",
    )  # fmt: skip
    context = {"invoice": {"number": "INV-7", "balance": "12.50"}, "customer": {"name": "<Bob & Co>"}}
    rendered = render(template, context)
    assert rendered.subject == "Invoice INV-7 overdue"
    assert rendered.body == "Dear <Bob & Co>: 12.50"
    assert rendered.html == "<p>&lt;Bob &amp; Co&gt;</p>"
    with pytest.raises(TemplateProblem, match="body"):
        check_template(Template(subject="s", body="{{ invoice.nope }}"))
    with pytest.raises(TemplateProblem):  # the sandbox refuses to reach Python internals
        check_template(Template(subject="s", body="{{ invoice.__class__.__mro__ }}"))


def test_amounts_are_formatted_with_the_currencys_digits():
    assert format_amount(1999, "EUR") == "19.99"
    assert format_amount(5, "EUR") == "0.05"
    assert format_amount(500, "JPY") == "500"
    assert format_amount(12345, "KWD") == "12.345"
